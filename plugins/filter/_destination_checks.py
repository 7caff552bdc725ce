# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _destination_checks (internal to the roles): every mdev's readiness on one destination, and what would prepare it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _destination_checks
short_description: "[INTERNAL] The readiness of several source mdevs on one destination and the actions that prepare it"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Runs P(s390x.vfio_ap.migration_check#filter) for each of O(uuids) from the source to the
    destination, and returns the checks, those that preparation cannot make ready (neither
    C(ready) nor C(ready_after)) and the actions of all checks - each once, in order - by type
    (C(ap_mask), C(mdev), C(migratable)), the order the C(destination) role runs them in.
  - An unknown UUID, or an action of another type, is an error.
positional: destination_facts, uuids
options:
  _input:
    description: The source host's C(ansible_facts.vfio_ap).
    type: dict
    required: true
  destination_facts:
    description: The destination host's C(ansible_facts.vfio_ap).
    type: dict
    required: true
  uuids:
    description: The source mdevs (a list, or one string of UUIDs separated by commas or spaces).
    type: raw
    required: true
  rules:
    description: The rule set, as in P(s390x.vfio_ap.migration_check#filter).
    type: str
    default: auto
    choices: [auto, attribute, kernel, strict]
  source:
    description: The source host's name.
    type: str
  destination:
    description: The destination host's name.
    type: str
  migration_levels:
    description:
      - "C({host: attribute|kernel}): the migration level of hosts whose facts cannot show it, as in
        P(s390x.vfio_ap.migration_check#filter)."
    type: dict
"""

EXAMPLES = r"""
- name: Check the mdevs of kvm-a1 against this host
  ansible.builtin.set_fact:
    checks: >-
      {{ hostvars['kvm-a1'].ansible_facts.vfio_ap
         | s390x.vfio_ap._destination_checks(ansible_facts.vfio_ap, uuids, source='kvm-a1', destination=inventory_hostname) }}

- name: Reserve what the guests need
  s390x.vfio_ap.ap_mask:
    adapters: "{{ item.adapters }}"
    domains: "{{ item.domains }}"
    state: reserved
  loop: "{{ checks.actions.ap_mask }}"
"""

RETURN = r"""
_value:
  description:
    - "C({checks, unfixable, actions}): C(checks) one migration_check result per UUID, in the given
      order; C(unfixable) the checks neither C(ready) nor C(ready_after); C(actions) C({ap_mask:
      [...], mdev: [...], migratable: [...]}), the actions of docs/plan-schema.md."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._destination import destination_checks as _checks


def _destination_checks(source_facts, destination_facts, uuids, rules="auto", source=None, destination=None, migration_levels=None):
    """Return the checks, the unfixable ones and the actions by type (see RETURN)."""
    try:
        return _checks(
            source_facts, destination_facts, uuids, rules=rules, source=source, destination=destination, migration_levels=migration_levels
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._destination_checks: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_destination_checks": _destination_checks}
