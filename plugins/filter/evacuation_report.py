# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter evacuation_report: an evacuation plan as Markdown."""

from __future__ import annotations

DOCUMENTATION = r"""
name: evacuation_report
short_description: Render an evacuation plan as Markdown
version_added: 0.1.0
description:
  - "Renders the result of P(s390x.vfio_ap.evacuation_plan#filter) as Markdown: the verdict, a
    table of guests with their destination and status, and the C(virsh migrate) commands."
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

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import render_evacuation_markdown


def evacuation_report(evacuation):
    """Return the evacuation plan as Markdown."""
    try:
        return render_evacuation_markdown(evacuation)
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.evacuation_report: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"evacuation_report": evacuation_report}
