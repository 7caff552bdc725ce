# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter drain_report: the maintenance role's report (evacuation.json, .md, .html, .xml) and summary."""

from __future__ import annotations

DOCUMENTATION = r"""
name: drain_report
short_description: Build the report of a drain (or of its plan) and the summary for set_stats
version_added: 0.2.0
description:
  - Combines the evacuation plan with what happened to each guest and whether each host going into
    maintenance is empty of vfio-ap guests, and renders it as JSON, Markdown, HTML and JUnit.
options:
  _input:
    description: The evacuation plan (P(s390x.vfio_ap.evacuation_plan#filter)).
    type: dict
    required: true
  outcomes:
    description: "C({uuid: outcome}) of the executed guests (and of an earlier run's guests found on their destination)."
    type: dict
  held:
    description: "C({uuid: stranded|needs_preparation}) of guests not run."
    type: dict
  mode:
    description: What the run did.
    type: str
    choices: [plan, check, execute]
    default: plan
  facts:
    description: "C({host: ansible_facts.vfio_ap}) after the run (for the empty verdict)."
    type: dict
  stopped:
    description: The run stopped at a failure.
    type: bool
    default: false
  report_dir:
    description: Where the reports are written (put into the summary).
    type: str
  plan:
    description:
      - The P(s390x.vfio_ap.migration_plan#filter) the evacuation came from; a stranded guest's codes
        are then its C(top_blockers) (the blockers that matter) instead of every blocker code.
    type: dict
  started:
    description:
      - The report written when a drain starts (replaced when it ends) - the guests without an
        outcome are C(pending), and the outcome says that the drain has not ended. A later run
        reads it to find the guests an interrupted run moved.
    type: bool
    default: false
  resumed:
    description:
      - With O(started), the guests of an earlier run the drain looks for again (C(resumed) of
        P(s390x.vfio_ap.maintenance_waves#filter)), listed as C(pending).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: "{{ evacuation | s390x.vfio_ap.drain_report(outcomes=outcomes, mode='execute', facts=facts) }}"
"""

RETURN = r"""
_value:
  description:
    - "C(document) (evacuation.json), C(files) (C({name: text}) for evacuation.json, evacuation.md,
      evacuation.html, evacuation.xml) and C(summary) (the set_stats data)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import drain_document, drain_summary, render_files


def drain_report(
    evacuation, outcomes=None, held=None, mode="plan", facts=None, stopped=False, report_dir=None, plan=None, started=False, resumed=None
):
    """Return the report (see RETURN)."""
    try:
        document = drain_document(
            evacuation,
            dict(outcomes or {}),
            dict(held or {}),
            mode,
            dict(facts or {}),
            bool(stopped),
            plan,
            bool(started),
            list(resumed or []),
        )
        return {"document": document, "files": render_files(document), "summary": drain_summary(document, report_dir)}
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.drain_report: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"drain_report": drain_report}
