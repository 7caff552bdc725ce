#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: _audit_reports
short_description: "[INTERNAL] The audit's controller step (plan, summary, reports); must only be used from roles in this collection"
version_added: 0.2.0
description:
  - "[INTERNAL] Used by the C(s390x.vfio_ap.audit) role, which runs it once (C(run_once)) after the facts are gathered;
    it must only be used from roles in this collection. Its options and results may change in any release, without a
    deprecation."
  - Reads the C(vfio_ap) facts (and C(vfio_ap_migration_address), C(vfio_ap_migration_level)) of O(hosts) from
    C(hostvars), computes the plan (P(s390x.vfio_ap.migration_plan#filter)), its summary
    (P(s390x.vfio_ap.readiness_summary#filter)) and the reports (P(s390x.vfio_ap.readiness_report#filter)), and writes
    the reports into O(report_dir) on the controller - in one step, where separate tasks would each pass the fleet's
    facts or the plan through Ansible's templating.
  - Writes a report only when its text changed (atomically, mode C(0644); the directory is created C(0755)). The reports
    are the audit's output on the controller, not a change to a KVM host - they are written in check mode too.
author:
  - s390x.vfio_ap developers (@s390x-ansible)
options:
  hosts:
    description: The inventory hosts to plan; those without C(vfio_ap) facts are returned in RV(not_audited).
    type: list
    elements: str
    required: true
  rules:
    description: Compatibility rules of the plan.
    type: str
    choices: [auto, attribute, kernel, strict]
    default: auto
  limit:
    description: How many ready and ready-after destinations the plan lists per guest.
    type: int
    default: 10
  nearest:
    description: How many blocked destinations the plan lists per guest.
    type: int
    default: 5
  migration_network:
    description: CIDR of the migration network (the plan's C(virsh migrate) commands); empty for none.
    type: str
  report_dir:
    description: Directory on the controller for the reports (a relative path is taken from the current directory).
    type: path
  formats:
    description: Which reports to write.
    type: list
    elements: str
    choices: [json, markdown, html, junit]
    default: []
  title:
    description: Title of the Markdown and HTML reports.
    type: str
    default: vfio-ap live-migration readiness
attributes:
  check_mode:
    description: Writes the reports in check mode too (they are the audit's output, not a change to a managed host).
    support: full
  diff_mode:
    description: Returns no diff (reports can be megabytes).
    support: none
  platform:
    description: Runs on the controller.
    support: full
    platforms: all
"""

EXAMPLES = r"""
- name: Plan and write the reports
  s390x.vfio_ap._audit_reports:
    hosts: "{{ ansible_play_hosts_all }}"
    report_dir: /srv/reports
    formats: [json, markdown, html, junit]
  run_once: true
  register: audit
"""

RETURN = r"""
plan_json:
  description:
    - The migration plan (plan schema 2, docs/plan-schema.md) as compact JSON text; parse it with P(ansible.builtin.from_json#filter).
    - Text, not a dict, so that Ansible's result handling (callbacks, C(register)) copies one string instead of walking
      the plan's objects, about 170 per guest, several times.
  returned: success
  type: str
summary:
  description: The audit summary (P(s390x.vfio_ap.readiness_summary#filter)), with C(report_dir) the resolved directory.
  returned: success
  type: dict
not_audited:
  description: The hosts of O(hosts) without C(vfio_ap) facts.
  returned: success
  type: list
  elements: str
reports:
  description: The report files, written or already up to date.
  returned: success
  type: list
  elements: path
written:
  description: The paths changed (directories created, reports written, modes set).
  returned: success
  type: list
  elements: path
"""
