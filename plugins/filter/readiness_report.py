# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter readiness_report: render a migration_plan as the audit's report files."""

from __future__ import annotations

DOCUMENTATION = r"""
name: readiness_report
short_description: Render a migration plan as readiness reports (JSON, Markdown, HTML, JUnit)
version_added: 0.1.0
description:
  - Turns the result of P(s390x.vfio_ap.migration_plan#filter) into the report files the
    R(audit role,ansible_collections.s390x.vfio_ap.audit_role) writes, keyed by file name.
  - C(readiness.json) wraps the plan (schema in the collection's docs/audit.md);
    C(readiness.html) is one self-contained page with the guests x destination hosts matrix;
    C(readiness.xml) is JUnit with one test case per guest, failed when it has no ready destination.
options:
  _input:
    description: A migration plan (plan schema 2).
    type: dict
    required: true
  formats:
    description: Which reports to render.
    type: list
    elements: str
    choices: [json, markdown, html, junit]
    default: [json, markdown, html, junit]
  title:
    description: Title of the reports.
    type: str
    default: vfio-ap live-migration readiness
  not_audited:
    description: Inventory hosts that had no vfio_ap facts (listed in the reports).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Write the reports
  ansible.builtin.copy:
    dest: "/srv/reports/{{ item.key }}"
    content: "{{ item.value }}"
    mode: "0644"
  loop: "{{ plan | s390x.vfio_ap.readiness_report(formats=['html', 'junit']) | dict2items }}"
"""

RETURN = r"""
_value:
  description: File name (readiness.json, readiness.md, readiness.html, readiness.xml) to its text.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reports import readiness_report as _readiness_report

_DEFAULT_FORMATS = ("json", "markdown", "html", "junit")


def readiness_report(plan, formats=_DEFAULT_FORMATS, title="vfio-ap live-migration readiness", not_audited=()):
    """Return {file name: report text} for the requested formats."""
    try:
        return _readiness_report(plan, formats, title, not_audited or ())
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.readiness_report: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"readiness_report": readiness_report}
