# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter rolling_report: a rolling maintenance plan as JSON, Markdown or HTML."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rolling_report
short_description: Render a rolling maintenance plan as JSON, Markdown or HTML
version_added: 0.2.0
description:
  - Renders the result of P(s390x.vfio_ap.rolling_plan#filter) - the verdict, the figures, every batch with
    its migrations, the stranded guests with their blockers, the guests that move more than once and the
    orders tried.
  - Everything the hosts reported (host, guest and mdev names, reasons) is escaped for the format - Markdown
    escapes HTML and its own syntax, HTML escapes element text and attributes. The HTML page is self-contained.
options:
  _input:
    description: A rolling plan.
    type: dict
    required: true
  format:
    description: The format; the collection's playbook writes them as C(rolling-plan.json), C(.md) and C(.html).
    type: str
    default: markdown
    choices: [json, markdown, html]
  title:
    description: The heading of the Markdown and HTML reports.
    type: str
    default: Rolling maintenance plan
"""

EXAMPLES = r"""
- name: Write the plan for the change ticket
  ansible.builtin.copy:
    content: "{{ rolling | s390x.vfio_ap.rolling_report('markdown', title='Quarterly kernel update') }}"
    dest: /tmp/rolling-plan.md
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The report text (JSON with sorted keys; Markdown; one HTML page).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling_report import rolling_report as _rolling_report


def rolling_report(plan, format="markdown", title=None):  # noqa: A002 (the option's documented name)
    """Return the rendered report (see RETURN)."""
    try:
        return _rolling_report(plan, format, title)
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.rolling_report: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"rolling_report": rolling_report}
