# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _blocker_summary (internal to the roles): one line naming each guest that is not ready and its blocker codes."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _blocker_summary
short_description: "[INTERNAL] One line naming each guest of some migration_check results and its blocker codes"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Renders C(guest (code, code); guest (code)) from P(s390x.vfio_ap.migration_check#filter)
    results - the guest's name (its mdev UUID when it has none) and its blocker codes, each once -
    for failure messages.
options:
  _input:
    description: migration_check results.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse guests that preparation cannot make ready
  ansible.builtin.fail:
    msg: "{{ inventory_hostname }} cannot be made ready for {{ checks.unfixable | s390x.vfio_ap._blocker_summary }}"
  when: checks.unfixable | length > 0
"""

RETURN = r"""
_value:
  description: The text, for example C(hsm1 (apqn_missing, control_domain_missing); db1 (mdev_in_use)).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._destination import blocker_summary as _summary


def _blocker_summary(checks):
    """Return the text (see RETURN)."""
    try:
        return _summary(checks)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._blocker_summary: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_blocker_summary": _blocker_summary}
