# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter rolling_plan: the order of batches and every guest's destinations for maintaining hosts one batch at a time."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rolling_plan
short_description: Plan a rolling maintenance of hosts so that no vfio-ap guest is ever stranded
version_added: 0.2.0
description:
  - Given the hosts to maintain and a batch size, chooses an order of batches and, per batch, a
    destination for every running vfio-ap guest of the batch's hosts, such that no guest is stranded
    at any step and guests move as few times as possible.
  - Destinations are preferred in this order - hosts not due for maintenance, hosts already maintained
    (the guest never moves again), hosts due later (the guest moves again when that host's batch
    comes). Hosts in O(avoid) are never destinations.
  - Every verdict comes from the rules of P(s390x.vfio_ap.migration_check#filter). The plan also tracks
    what its own moves change - the APQNs a guest takes on a destination are no longer free for another
    guest (C(apqn_in_use)), new mdevs count against the destination's C(available_instances), a guest
    that moved is judged again from the host it landed on.
  - Tries the planned order and the order of O(hosts) and keeps the better one (fewest stranded guests,
    then fewest migrations); guests stranded in every order tried are listed as C(unavoidable), with
    their blockers.
  - A plan only - nothing is changed on any host. Render it with P(s390x.vfio_ap.rolling_report#filter);
    the collection's C(rolling_plan) playbook does both. Schema in C(docs/rolling-maintenance.md).
options:
  _input:
    description:
      - "C({host: facts}) where facts is the host's C(ansible_facts.vfio_ap), or the host's hostvars, for example
        C(hostvars) itself (hosts without AP facts are not used as destinations and are listed as C(not_audited))."
    type: dict
    required: true
  hosts:
    description:
      - The hosts to maintain, in the order used by O(order=given). A list, or one string of names separated by
        commas or blanks. Each must have AP facts (a host whose guests are unknown cannot be planned).
    type: raw
    required: true
  batch_size:
    description: How many hosts go down at once, at most (a batch is smaller only when every host left took guests of it).
    type: int
    default: 1
  avoid:
    description: Hosts never to use as destinations (a list or one comma-separated string); they may be maintained themselves.
    type: raw
    default: []
  destinations:
    description:
      - The hosts that may take guests (default every host of O(_input) with AP facts). The hosts to maintain are
        always candidates (once maintained, or while due later).
    type: raw
  rules:
    description: The rule set, as in P(s390x.vfio_ap.migration_check#filter).
    type: str
    default: auto
    choices: [auto, attribute, kernel, strict]
  prepare:
    description: Destinations the C(destination) role can make ready count (V(false) - only destinations ready now).
    type: bool
    default: true
  enable_migration:
    description: A guest whose migration is disabled (C(migration_disabled)) counts as movable; the run enables migration first.
    type: bool
    default: false
  order:
    description: V(planned) tries the planned order and the order of O(hosts) and keeps the better; V(given) keeps the order of O(hosts).
    type: str
    default: planned
    choices: [planned, given]
  mkvps:
    description: "Known master-key verification patterns C({host: {apqn: {slot: pattern}}})."
    type: dict
  maintained:
    description:
      - Hosts maintained already in the same rolling maintenance (a list or one comma-separated string), for planning
        what is left of it - destinations after the hosts not due for maintenance, as the plan's own earlier batches.
        The C(rolling_maintenance) playbook plans each batch this way.
    type: raw
    default: []
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Plan the rolling maintenance of every KVM host, two at a time, never using kvm-x9 as a destination
  ansible.builtin.set_fact:
    rolling: >-
      {{ hostvars | s390x.vfio_ap.rolling_plan(hosts=groups['kvm'], batch_size=2, avoid=['kvm-x9']) }}

- name: Show the verdict and the batches
  ansible.builtin.debug:
    msg: "{{ rolling.verdict }}: {{ rolling.batches | map(attribute='hosts') | list }}"
"""

RETURN = r"""
_value:
  description:
    - C(schema) (1), C(hosts), C(batch_size), C(order) (the order kept), C(avoid), C(destinations), C(not_audited),
      C(maintained), C(rules), C(prepare), C(enable_migration), C(feasible) (no guest stranded), C(verdict) (one sentence),
      C(summary) (C(hosts), C(guests), C(batches), C(moves), C(moved), C(moved_again), C(extra_moves),
      C(stranded), C(unavoidable), C(prepare)).
    - "C(batches) - per batch C(index), C(hosts), C(moves) (C(guest), C(uuid), C(from), C(to), C(tier)
      V(outside)|V(maintained)|V(later), C(prepare), C(codes) the blockers preparation fixes, C(enable_migration),
      C(again)), C(stranded) and C(prepare) (C({destination: [uuid]}), the destination role's input)."
    - C(guests) - per guest its C(home), C(moves), C(final) host and the batch it is C(stranded) in.
    - "C(stranded) / C(unavoidable) - per guest C(batch), C(host), C(home), C(apqns), C(destinations) (usable at all),
      C(blockers) (C({code: destinations})), C(source_blockers), C(unavailable) (C(same_batch), C(avoid),
      C(apqn_in_use), C(no_free_instances), C(needs_preparation) - destinations counted)."
    - C(orders) - every order tried with its C(batches), C(moves), C(moved_again), C(stranded); C(warnings).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling import rolling_plan as _rolling_plan


def rolling_plan(
    facts_by_host,
    hosts=None,
    batch_size=1,
    avoid=None,
    destinations=None,
    rules="auto",
    prepare=True,
    enable_migration=False,
    order="planned",
    mkvps=None,
    maintained=None,
):
    """Return the rolling maintenance plan (see RETURN)."""
    if hosts is None:
        raise AnsibleFilterError("s390x.vfio_ap.rolling_plan: hosts: the hosts to maintain are required")
    try:
        return _rolling_plan(
            facts_by_host, hosts, batch_size, avoid, destinations, rules, prepare, enable_migration, order, mkvps, maintained
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.rolling_plan: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"rolling_plan": rolling_plan}
