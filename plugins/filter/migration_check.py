# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter migration_check: can one vfio-ap mdev migrate from one host to another, and what would make it?"""

from __future__ import annotations

DOCUMENTATION = r"""
name: migration_check
short_description: Readiness of one vfio-ap guest's migration from a source host to a destination host
version_added: 0.1.0
description:
  - Compares the AP facts of two KVM hosts (from M(s390x.vfio_ap.ap_facts)) for the source mdev
    O(uuid) before any migration starts, with the checks the kernel's live-migration series makes
    on the destination (queues bound to vfio_ap, control domains, same mode and facilities, same or
    newer card, native/stateless class, Secure Execution state) and what orchestration must ensure
    (a same-UUID mdev, queues free of other mdevs and auto-start definitions, the source's
    migration switch, master keys, persistence).
  - Every reason code is explained, with its kernel message and remedy, in C(docs/reason-codes.md);
    the result and action schema are in C(docs/plan-schema.md).
positional: destination_facts, uuid
options:
  _input:
    description: The source host's C(ansible_facts.vfio_ap).
    type: dict
    required: true
  destination_facts:
    description: The destination host's C(ansible_facts.vfio_ap).
    type: dict
    required: true
  uuid:
    description: The UUID of the source mdev (the guest's vfio-ap device).
    type: str
    required: true
  rules:
    description:
      - V(attribute) (kernel series v1/v2) requires the destination mdev to hold exactly the
        source guest's APQN set; V(kernel) (series v3 and later) requires the queues bound to
        vfio_ap, free of other mdevs, and the control domains in the destination's mask (the
        migration overwrites the destination mdev's configuration); V(strict) applies both.
      - V(auto) uses each host's C(vfio_ap.driver.migration); when they differ, V(strict) and the warning
        C(mixed_migration_levels). A host whose facts say C(kernel) but that has no mdev may run
        series v1/v2 as well (only an mdev shows the v1 C(migratable) file); V(auto) checks both
        rule sets there and warns C(migration_level_unknown), unless O(migration_levels) names its level.
    type: str
    default: auto
    choices: [auto, attribute, kernel, strict]
  source:
    description: The source host's name (used in details; equal names give C(same_host)).
    type: str
  destination:
    description: The destination host's name.
    type: str
  mkvps:
    description:
      - "Known master-key verification patterns, C({host: {apqn: {slot: pattern}}}) with slots such
        as C(aes_cur), C(apka_cur), C(asym_cur) (CCA) or C(wk_cur) (EP11); the hosts are the
        O(source) and O(destination) names. They complete the facts, which only carry C(mkvps) for
        queues bound to C(cex4queue), so that C(mkvp_mismatch) can be decided for a running guest."
    type: dict
  migration_levels:
    description:
      - "The migration level of hosts whose facts cannot show it, C({host: attribute|kernel}) for the
        O(source) and O(destination) names (what the inventory variable C(vfio_ap_migration_level) says
        to P(s390x.vfio_ap.migration_plan#filter)): V(attribute) for series v1/v2 (validation), V(kernel) for
        series v3 and later (restore). It counts only where the facts say C(kernel): a host whose facts
        show no migration support or the v1 attribute keeps that level."
    type: dict
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Can web1 go from kvm-a1 to kvm-b1?
  ansible.builtin.set_fact:
    check: >-
      {{ hostvars['kvm-a1'].ansible_facts.vfio_ap
         | s390x.vfio_ap.migration_check(hostvars['kvm-b1'].ansible_facts.vfio_ap,
                                         '6c1a0000-0000-4000-8000-00000000a101',
                                         source='kvm-a1', destination='kvm-b1') }}

- name: Refuse to continue unless ready
  ansible.builtin.assert:
    that: check.ready
    fail_msg: "{{ check.blockers | map(attribute='code') | join(', ') }}"
"""

RETURN = r"""
_value:
  description:
    - "C({uuid, guest, source, destination, rules, ready, ready_after, apqns, control_domains,
      blockers, warnings, actions}). C(blockers) and C(warnings) are lists of C({code, apqn, detail}).
      C(ready_after) is true when every blocker is one the destination role fixes (C(mdev_missing),
      C(apqn_not_bound), C(apqn_set_mismatch)). C(actions) are C({type: ap_mask|mdev, ...module
      options}) in execution order."
    - "Facts that could not see everything a verdict needs give the blocker C(source_facts_incomplete) or
      C(destination_facts_incomplete), whose detail names what could not be read and the fix."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._readiness import migration_check as _check


def migration_check(source_facts, destination_facts, uuid, rules="auto", source=None, destination=None, mkvps=None, migration_levels=None):
    """Return the readiness dict of one source mdev on one destination."""
    try:
        return _check(
            source_facts,
            destination_facts,
            uuid,
            rules=rules,
            source=source,
            destination=destination,
            mkvps=mkvps,
            migration_levels=migration_levels,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.migration_check: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"migration_check": migration_check}
