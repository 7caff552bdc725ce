# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _selection_errors (internal to the roles): what a role's uuids and guests inputs name that is not there."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _selection_errors
short_description: "[INTERNAL] The messages for mdev UUIDs and guests a role input names that are not there"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Takes a C(mdev_selection) result and returns one message per UUID or guest the hosts do not
    have; a value that is not a UUID is said to be so, and a guest or mdev another host has is
    said to be there.
options:
  _input:
    description: The C(s390x.vfio_ap._mdev_selection) result.
    type: dict
    required: true
  source:
    description: The host (or the hosts, in words) the mdevs were looked for on.
    type: str
    required: true
  uuids_variable:
    description: The name of the role's UUID input, for the messages.
    type: str
    required: true
  guests_variable:
    description: The name of the role's guest input, for the messages.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Fail on mdevs or guests the source does not have
  ansible.builtin.fail:
    msg: "{{ __errors | join('; ') }}"
  when: __errors | length > 0
  vars:
    __errors: "{{ selection | s390x.vfio_ap._selection_errors('kvm-a1', 'vfio_ap_destination_uuids', 'vfio_ap_destination_guests') }}"
"""

RETURN = r"""
_value:
  description: The messages (empty when every UUID and guest was found).
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._input_errors import selection_errors


def _selection_errors(selection, source, uuids_variable, guests_variable):
    """Return the messages (see RETURN)."""
    if not isinstance(selection, Mapping):
        raise AnsibleFilterError("s390x.vfio_ap._selection_errors: expected an mdev_selection result (a dict)")
    return selection_errors(selection, str(source), str(uuids_variable), str(guests_variable))


class FilterModule:
    def filters(self):
        return {"_selection_errors": _selection_errors}
