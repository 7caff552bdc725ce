# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _destination_undo (internal to the roles): the actions that reverse a destination's preparation."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _destination_undo
short_description: "[INTERNAL] The actions that put a prepared destination back as it was"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - From the registered results of M(s390x.vfio_ap.ap_mask) and M(s390x.vfio_ap.mdev) (what the
    C(destination) role changed), returns the actions that reverse exactly those changes - remove the
    mdevs it created (and their definition when it created that too), give a reconfigured mdev its
    previous assignment, release the IDs it reserved - mdevs first, in reverse order.
  - With O(earlier), the actions an earlier preparation in the same play recorded follow the new ones
    (newest first; an action already listed is kept once), so that a second run that changes nothing
    keeps what undoes the first.
  - Run them with the C(destination) role's C(undo) entry point.
options:
  _input:
    description: The registered C(ap_mask) results (a loop's register or its C(results) list).
    type: raw
    required: true
  mdev_results:
    description: The registered C(mdev) results.
    type: raw
    required: true
  earlier:
    description: Undo actions recorded before (this filter's earlier result), undone after the new ones.
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: What would undo the preparation
  ansible.builtin.set_fact:
    undo: "{{ ap_mask_results | s390x.vfio_ap._destination_undo(mdev_results) }}"
"""

RETURN = r"""
_value:
  description: "Actions C({type: mdev|ap_mask, ...}) as in docs/plan-schema.md."
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._undo import undo_actions


def _destination_undo(ap_mask_results, mdev_results, earlier=None):
    """Return the undo actions (see RETURN)."""
    try:
        return undo_actions(ap_mask_results, mdev_results, earlier)
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._destination_undo: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_destination_undo": _destination_undo}
