# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _mdev_selection (internal to the roles): the mdev UUIDs that a role's uuids and guests inputs name on some hosts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _mdev_selection
short_description: "[INTERNAL] Resolve mdev UUIDs and guest names to the vfio_ap mdevs of some hosts"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Takes the C(uuids) and C(guests) inputs of a role (each a list or one string of names
    separated by commas or spaces) and returns the mdev UUIDs they name on the given hosts - the
    UUIDs given, then the UUIDs of the hosts' mdevs that belong to a named guest - and the names
    no mdev of the hosts has.
  - Reads each host's C(ansible_facts.vfio_ap) out of C(hostvars); hosts without them have no mdevs.
options:
  _input:
    description: "C(hostvars) (or any C({host: variables}) mapping)."
    type: dict
    required: true
  hosts:
    description: The hosts whose mdevs count.
    type: list
    elements: str
    required: true
  uuids:
    description: mdev UUIDs (compared in lower case).
    type: raw
  guests:
    description: Guest (libvirt domain) names.
    type: raw
"""

EXAMPLES = r"""
- name: Which mdevs of kvm-a1 do hsm1 and db1 use?
  ansible.builtin.set_fact:
    selected: "{{ hostvars | s390x.vfio_ap._mdev_selection(hosts=['kvm-a1'], guests='hsm1,db1') }}"

- name: Fail on guests kvm-a1 does not run
  ansible.builtin.fail:
    msg: "kvm-a1 runs no guest named {{ selected.unknown_guests | join(', ') }}"
  when: selected.unknown_guests | length > 0
"""

RETURN = r"""
_value:
  description:
    - "C({uuids, unknown_uuids, unknown_guests, not_uuids, elsewhere, guests_here}): C(uuids) the
      UUIDs given (lower case) and then those of the mdevs of a named guest, each once;
      C(unknown_uuids) the UUIDs given that no host has as an mdev, C(not_uuids) those of them not
      written as a UUID; C(unknown_guests) the guests no mdev of the hosts belongs to;
      C(elsewhere) C({UUID or guest: [hosts]}) for unknown ones that other hosts with AP facts
      have; C(guests_here) the guests of the hosts."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import mdev_selection as _selection


def _mdev_selection(hostvars, hosts, uuids=None, guests=None):
    """Return the mdevs the inputs name (see RETURN)."""
    try:
        return _selection(hostvars, hosts, uuids=uuids, guests=guests)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._mdev_selection: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_mdev_selection": _mdev_selection}
