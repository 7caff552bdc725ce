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
  - For every mdev of the source hosts (once per UUID), lists up to O(limit) destinations that are
    ready and up to O(limit) that the destination role can make ready (C(ready_after), grouped by
    the actions that prepare them), each with the full count; summarises the blocked destinations
    as a count per reason code plus the O(nearest) nearest ones with their reasons; suggests a
    destination per guest (spreading guests over destinations) with the actions that prepare it;
    summarises guests with and without a destination and gives each source host an evacuation verdict.
  - The plan grows with the number of guests, not guests times hosts (plan schema 2). O(detail)
    lifts the bounds for named guests or source hosts.
  - Uses the same evaluation of the rules as P(s390x.vfio_ap.migration_check#filter), over indexes
    of the destinations, so it stays fast on fleets of thousands of hosts.
  - Result schema in C(docs/plan-schema.md), reason codes in C(docs/reason-codes.md).
requirements:
  - netaddr (only with O(migration_network))
  - jmespath (only with O(query))
options:
  _input:
    description:
      - "C({host: facts}) where facts is the host's C(ansible_facts.vfio_ap), or the host's hostvars
        (then C(vfio_ap_migration_address) and C(vfio_ap_migration_level) are read from them), for
        example C(hostvars) itself."
    type: dict
    required: true
  hosts:
    description:
      - The hosts of O(_input) that make up the fleet, for example C(groups['kvm']) with
        C(hostvars) as the input. Every one must be in O(_input) and have C(ansible_facts.vfio_ap)
        (one error names every host that is not or has none); the other hosts of O(_input) are not read.
      - Without it, every host of O(_input) (only O(sources) and O(destinations) are read).
    type: list
    elements: str
    version_added: 0.2.0
  sources:
    description: Hosts whose guests are planned (default every host, or O(hosts)).
    type: list
    elements: str
  destinations:
    description: Hosts considered as destinations (default every host, or O(hosts)).
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
  migration_levels:
    description:
      - "C({host: attribute|kernel}): the migration level of hosts whose facts cannot show it, as in
        P(s390x.vfio_ap.migration_check#filter); overrides the hosts' C(vfio_ap_migration_level)."
    type: dict
    version_added: 0.2.0
  limit:
    description: How many ready and how many ready-after destinations to list per guest (the counts are always complete).
    type: int
    default: 10
  nearest:
    description: How many blocked destinations to list per guest, nearest first (fewest blockers, then fewest unfixable ones).
    type: int
    default: 5
  detail:
    description:
      - V(true) gives every guest everything; a list of guest names, mdev UUIDs or source host
        names gives those guests everything. Everything is the full destination lists and, in
        C(destinations), the migration_check result for every destination.
      - Booleans are read as Ansible reads them (V(false), V(no), V(0) are false).
    type: raw
    default: false
  query:
    description:
      - A JMESPath expression; the filter returns its result over the plan instead of the plan.
      - Deprecated, to be removed in 1.0.0 - it is C(community.general.json_query) again; use
        C(migration_plan(...) | community.general.json_query('...')), or Jinja's C(selectattr) and C(map).
    type: str
"""

EXAMPLES = r"""
- name: Plan every guest of the fleet
  ansible.builtin.set_fact:
    plan: "{{ hostvars | s390x.vfio_ap.migration_plan(hosts=groups['kvm']) }}"
  run_once: true

- name: Plan the guests of lpar3 against the rest of the fleet
  ansible.builtin.set_fact:
    lpar3_plan: >-
      {{ hostvars | s390x.vfio_ap.migration_plan(hosts=groups['kvm'], sources=['lpar3'],
                                                   destinations=groups['kvm'] | difference(['lpar3'])) }}
  run_once: true

- name: Can every guest of lpar3 leave tonight?
  ansible.builtin.debug:
    msg: "{{ plan.summary.hosts['lpar3'].verdict }}"

- name: Guests that have nowhere to go
  ansible.builtin.debug:
    msg: >-
      {{ hostvars | s390x.vfio_ap.migration_plan(hosts=groups['kvm'], migration_network='10.10.0.0/24')
         | community.general.json_query("guests[?verdict=='blocked'].guest") }}
"""

RETURN = r"""
_value:
  description:
    - "The plan C({schema: 2, rules, limit, nearest, sources, destinations, migration_network, machines,
      facts_gaps, guests, summary}), see C(docs/plan-schema.md); with O(query), the query's result."
    - "A host whose facts could not see everything a verdict needs (C(facts_gaps): a failed read, no AP bus, facts
      that do not say what they could not read) is not fully audited - its guests are blocked
      (C(source_facts_incomplete)), it is no destination (C(destination_facts_incomplete)), its mdevs are not
      C(idle) and its C(summary.hosts) entry says so with the fix."
  type: raw
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.basic import missing_required_lib
from ansible.utils.display import Display

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import MissingLibrary, apply_query, build_plan


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
    limit=None,
    nearest=None,
    hosts=None,
    migration_levels=None,
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
            detail=detail,
            limit=limit,
            nearest=nearest,
            hosts=hosts,
            migration_levels=migration_levels,
        )
        if query is None:
            return plan
        Display().deprecated(
            "s390x.vfio_ap.migration_plan: the query option is deprecated; pipe the plan to community.general.json_query instead",
            version="1.0.0",
            collection_name="s390x.vfio_ap",
        )
        return apply_query(plan, query)
    except MissingLibrary as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.migration_plan: {exc.purpose} needs {missing_required_lib(exc.library)}") from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.migration_plan: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"migration_plan": migration_plan}
