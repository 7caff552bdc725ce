# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter evacuation_report (deprecated): an evacuation plan as Markdown, by the drain report's renderer."""

from __future__ import annotations

DOCUMENTATION = r"""
name: evacuation_report
short_description: Render an evacuation plan as Markdown (deprecated)
version_added: 0.1.0
deprecated:
  removed_in: 1.0.0
  why: >-
    Nothing in the collection calls it: the C(s390x.vfio_ap.maintenance) role writes the plan as C(evacuation.md) (with
    C(.json), C(.html) and JUnit C(.xml)) to C(vfio_ap_maintenance_report_dir) in every mode, plan-only included.
  alternative: >-
    Run the C(s390x.vfio_ap.maintenance) role (or the C(s390x.vfio_ap.pre_maintenance) playbook) without
    C(vfio_ap_maintenance_execute) and read C(evacuation.md) from its report directory.
description:
  - "Renders the result of P(s390x.vfio_ap.evacuation_plan#filter) as Markdown, as the maintenance role's
    C(evacuation.md) of a plan-only run shows it: the verdict, a row per guest with its destination and result, and the
    C(virsh migrate) commands."
options:
  _input:
    description: An evacuation plan.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the evacuation plan
  ansible.builtin.copy:
    dest: /srv/reports/evacuation.md
    content: "{{ evacuation | s390x.vfio_ap.evacuation_report }}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: Markdown text.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import render_markdown


DEPRECATION = (
    "s390x.vfio_ap.evacuation_report is deprecated: the s390x.vfio_ap.maintenance role writes the plan as evacuation.md "
    "(and .json, .html, .xml) to vfio_ap_maintenance_report_dir, plan-only runs included"
)


def evacuation_report(evacuation):
    """Return the evacuation plan as Markdown (the drain report of a plan-only run)."""
    # Deprecated when called, not through meta/runtime.yml: Ansible loads every filter file of a
    # collection when any of its filters is used, and would warn on every run of every role.
    Display().deprecated(DEPRECATION, version="1.0.0", collection_name="s390x.vfio_ap")
    try:
        return render_markdown(drain_document(evacuation, Progress("plan"), {}))
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.evacuation_report: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"evacuation_report": evacuation_report}
