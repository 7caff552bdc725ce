# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ap_queues: a host's queues with every key, from the compact facts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: ap_queues
short_description: A host's AP queues with every key, from its compact AP facts
version_added: 0.2.0
description:
  - C(ansible_facts.vfio_ap.queues) (facts schema 2) keeps, for each queue, only its APQN, its driver,
    its vfio_ap status and what differs from the usual value, so that a 256 x 85 LPAR gathers in a
    fraction of the size. This filter returns the queues in their full form, each with every key
    (C(apqn), C(adapter), C(domain), C(driver), C(functions), C(capabilities), C(config), C(chkstop),
    C(online), C(vfio_status), C(driver_override), C(mkvps)), the card's hardware word and
    capabilities filled in where the queue has none of its own.
  - Facts of schema 1 (full records already) are accepted and returned alike.
  - Facts that are not AP facts, or a malformed queue, fail with one message naming the key.
positional: apqns
options:
  _input:
    description: A host's C(ansible_facts.vfio_ap).
    type: dict
    required: true
  apqns:
    description:
      - Only these APQNs (C(AA.DDDD) texts, for example an mdev's C(guest_apqns)), in this order;
        one the host does not have is left out. All queues, sorted, when omitted.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The queues of a guest's mdev, with their hardware capabilities
  ansible.builtin.debug:
    msg: "{{ ansible_facts.vfio_ap | s390x.vfio_ap.ap_queues(mdev.guest_apqns) }}"

- name: Check-stopped queues
  ansible.builtin.debug:
    msg: "{{ ansible_facts.vfio_ap | s390x.vfio_ap.ap_queues | selectattr('chkstop') | map(attribute='apqn') | list }}"
"""

RETURN = r"""
_value:
  description: One dict per queue with every key described for C(queues) in the C(ap_facts) module.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._host_facts import full_queues


def ap_queues(facts, apqns=None):
    """Return the host's queues (or those of ``apqns``) with every key."""
    try:
        return full_queues(facts, apqns)
    except ValueError as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.ap_queues: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"ap_queues": ap_queues}
