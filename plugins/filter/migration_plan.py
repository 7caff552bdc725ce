# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter migration_plan: where can every vfio-ap guest of a fleet go, and why not elsewhere?"""

from __future__ import annotations

DOCUMENTATION = r"""
name: migration_plan
short_description: Migration readiness of every vfio-ap guest of a fleet against every other host
version_added: 0.1.0
description:
  - For every mdev of the source hosts, lists the destinations that are ready, those the
    destination role can make ready (C(ready_after)) and, for every other destination, the
    blocker codes; suggests a destination per guest (spreading guests over destinations) with the
    actions that prepare it; summarises guests with and without a destination and gives each source
    host an evacuation verdict.
  - Uses the rules of P(s390x.vfio_ap.migration_check#filter) on indexes (destination queues by
    APQN and capability), so it stays fast on fleets of thousands of guests.
  - Result schema in C(docs/plan-schema.md), reason codes in C(docs/reason-codes.md).
requirements:
  - netaddr (only with O(migration_network))
  - jmespath (only with O(query))
options:
  _input:
    description:
      - "C({host: facts}) where facts is the host's C(ansible_facts.vfio_ap), or the host's hostvars
        (then C(vfio_ap_migration_address) is read from them), for example C(hostvars) itself."
    type: dict
    required: true
  sources:
    description: Hosts whose guests are planned (default every host).
    type: list
    elements: str
  destinations:
    description: Hosts considered as destinations (default every host).
    type: list
    elements: str
  rules:
    description: The rule set, as in P(s390x.vfio_ap.migration_check#filter).
    type: str
    default: auto
    choices: [auto, attribute, kernel, strict]
  migration_network:
    description:
      - A CIDR (IPv4 or IPv6). When given, both ends' C(vfio_ap_migration_address) must be in it
        and each guest gets a C(virsh migrate --live ... --migrateuri tcp://ADDRESS) command for
        its suggested destination (IPv6 addresses in brackets), or C(command_error) saying why not.
    type: str
  migration_addresses:
    description: "C({host: address}), overriding the hosts' C(vfio_ap_migration_address)."
    type: dict
  mkvps:
    description: "Known master-key verification patterns C({host: {apqn: {slot: pattern}}})."
    type: dict
  detail:
    description: Add per guest C(destinations), the full migration_check result for every destination.
    type: bool
    default: false
  query:
    description: A JMESPath expression; the filter returns its result over the plan instead of the plan.
    type: str
"""

EXAMPLES = r"""
- name: Plan every guest of the fleet
  ansible.builtin.set_fact:
    plan: "{{ hostvars | s390x.vfio_ap.migration_plan(sources=groups['kvm'], destinations=groups['kvm']) }}"
  run_once: true

- name: Can every guest of lpar3 leave tonight?
  ansible.builtin.debug:
    msg: "{{ plan.summary.hosts['lpar3'].verdict }}"

- name: Guests that have nowhere to go, with a migration command for the others
  ansible.builtin.debug:
    msg: >-
      {{ hostvars | s390x.vfio_ap.migration_plan(migration_network='10.10.0.0/24',
                                                   query="guests[?verdict=='blocked'].guest") }}
"""

RETURN = r"""
_value:
  description:
    - "The plan C({schema, rules, sources, destinations, migration_network, guests, summary}), see
      C(docs/plan-schema.md); with O(query), the query's result."
  type: raw
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan import MissingLibrary, apply_query, build_plan


def migration_plan(
    facts_by_host,
    sources=None,
    destinations=None,
    rules="auto",
    migration_network=None,
    migration_addresses=None,
    mkvps=None,
    detail=False,
    query=None,
):
    """Return the fleet migration plan (or a JMESPath query's result over it)."""
    try:
        plan = build_plan(
            facts_by_host,
            sources=sources,
            destinations=destinations,
            rules=rules,
            migration_network=migration_network,
            mkvps=mkvps,
            migration_addresses=migration_addresses,
            detail=bool(detail),
        )
        return plan if query is None else apply_query(plan, query)
    except MissingLibrary as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.migration_plan: {exc.purpose} needs {missing_required_lib(exc.library)}") from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.migration_plan: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"migration_plan": migration_plan}
