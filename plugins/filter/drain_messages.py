# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter drain_messages: what the maintenance role says at the end of a run."""

from __future__ import annotations

DOCUMENTATION = r"""
name: drain_messages
short_description: The outcome lines and the failure message of a drain (or of its plan)
version_added: 0.2.0
description:
  - From the drain document (C(document) of P(s390x.vfio_ap.drain_report#filter)) renders the lines
    the C(maintenance) role shows - the outcome, then the C(virsh migrate) command of every guest for
    a plan, or one line per guest after a run - and the messages it fails with when guests failed or
    a host is not empty.
options:
  _input:
    description: The drain document (C(evacuation.json)).
    type: dict
    required: true
  report_dir:
    description: Where the reports are, named in the failure message.
    type: str
"""

EXAMPLES = r"""
- name: Show the outcome
  ansible.builtin.debug:
    msg: "{{ (report.document | s390x.vfio_ap.drain_messages).lines }}"
"""

RETURN = r"""
_value:
  description:
    - "C({lines, failed, not_empty}): C(lines) a list of text lines; C(failed) the outcome with every failed
      guest, its codes and message, and where the report is (empty when no guest failed); C(not_empty)
      the hosts that still run vfio-ap guests, with the guests (empty when every host is empty).
      Every line is plain text - control characters from hosts show as escapes."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import drain_messages as _messages


def drain_messages(document, report_dir=None):
    """Return the lines and the failure message (see RETURN)."""
    try:
        return _messages(document, report_dir)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.drain_messages: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"drain_messages": drain_messages}
