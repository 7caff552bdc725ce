# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _fleet_facts (internal to the roles): which hosts of a list have AP facts, with their facts, migration addresses and capacity."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _fleet_facts
short_description: "[INTERNAL] The AP facts, migration addresses and free mdev instances of a list of hosts, from hostvars"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Reads C(ansible_facts.vfio_ap) (from M(s390x.vfio_ap.ap_facts) or the fact cache) and the
    inventory variable C(vfio_ap_migration_address) of each named host out of C(hostvars), and says
    which hosts have AP facts and which do not (not gathered, or not an inventory host).
  - The C(audit) role lists the hosts without facts as not audited; the C(maintenance) role plans
    over the hosts with facts and passes their addresses and capacity on.
positional: hosts
options:
  _input:
    description: "C(hostvars) (or any C({host: variables}) mapping)."
    type: dict
    required: true
  hosts:
    description: The inventory hosts to look at (duplicates are dropped, the order is kept).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Which hosts of the play have AP facts?
  ansible.builtin.set_fact:
    fleet: "{{ hostvars | s390x.vfio_ap._fleet_facts(ansible_play_hosts_all) }}"
  run_once: true

- name: Say which hosts were not audited
  ansible.builtin.debug:
    msg: "no AP facts for {{ fleet.missing | join(', ') }}"
  when: fleet.missing | length > 0
"""

RETURN = r"""
_value:
  description:
    - "C({hosts, gathered, missing, facts, addresses, capacity}): C(hosts) the names given,
      C(gathered) those with C(ansible_facts.vfio_ap), C(missing) the others; for the gathered
      hosts C(facts) (C({host: ansible_facts.vfio_ap})), C(capacity) (C({host:
      vfio_ap.driver.available_instances})) and C(addresses) (C({host: vfio_ap_migration_address}) of
      those that define it)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import fleet_facts


def _fleet_facts(hostvars, hosts):
    """Return what hostvars knows of the hosts (see RETURN)."""
    try:
        return fleet_facts(hostvars, hosts)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._fleet_facts: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_fleet_facts": _fleet_facts}
