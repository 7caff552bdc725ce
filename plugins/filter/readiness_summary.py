# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter readiness_summary: the audit summary published with set_stats."""

from __future__ import annotations

DOCUMENTATION = r"""
name: readiness_summary
short_description: The audit summary of a migration plan (counts, guests without destination)
version_added: 0.1.0
description:
  - Returns what the R(audit role,ansible_collections.s390x.vfio_ap.audit_role) publishes with
    C(ansible.builtin.set_stats) as C(vfio_ap_audit_summary).
options:
  _input:
    description: A migration plan (plan schema 2) from P(s390x.vfio_ap.migration_plan#filter).
    type: dict
    required: true
  not_audited:
    description: Inventory hosts that had no vfio_ap facts.
    type: list
    elements: str
    default: []
  report_dir:
    description: Directory the reports were written to (copied into the summary when given).
    type: str
"""

EXAMPLES = r"""
- name: Fail when a guest has nowhere to go
  ansible.builtin.assert:
    that: (plan | s390x.vfio_ap.readiness_summary).blocked == 0
"""

RETURN = r"""
_value:
  description:
    - "C(schema), C(hosts), C(fully_audited) (no host without facts or with facts that could not see everything:
      the audit's gate), C(not_audited) (hosts without facts), C(not_fully_audited) (hosts whose facts have gaps),
      C(audit_gaps) (one line per gap, C(<host>: <what>: <fix>)), C(guests), C(ready), C(ready_after), C(blocked),
      C(idle_mdevs) (how many mdevs no guest uses), C(top_blockers),
      C(guests_without_destination) (list of C({guest, uuid, source, top_blockers})),
      C(hosts_not_evacuable), C(hosts_evacuable_after_preparation) and, when given, C(report_dir)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reports import readiness_summary as _readiness_summary


def readiness_summary(plan, not_audited=(), report_dir=None):
    """Return the audit summary dict of a plan."""
    try:
        return _readiness_summary(plan, not_audited or (), report_dir)
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.readiness_summary: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"readiness_summary": readiness_summary}
