# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _maintenance_approved_plan (internal to the roles): an approved evacuation plan, checked against fresh facts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _maintenance_approved_plan
short_description: "[INTERNAL] Check an approved evacuation plan against the facts gathered just now"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Takes the C(evacuation.json) of an earlier plan-only run (the plan a change board approved,
    O(_input) as its JSON text or as a dict) and checks it before the C(maintenance) role changes
    anything - its C(hosts) are the hosts going into maintenance, every entry's C(source) is one of
    them, each mdev UUID is listed once, each entry is well formed, and each entry names the guest
    the facts show on that mdev now (the drain migrates by name).
  - "Every finding is one line naming the entry index and key, for example
    C(guests[3].guest: the plan names 'db1', but mdev ... is used by guest 'web1' (kvm-a1))."
  - An entry whose mdev is on no host going into maintenance any more is kept with status
    C(skipped) and reported. A plan with more than 10000 entries is refused before any other check.
  - The plan returned is rebuilt from the checked entries and the facts (APQNs, commands, summary,
    verdict, destinations); nothing else of the file is used.
options:
  _input:
    description: The approved plan - the text of an C(evacuation.json), or the parsed document.
    type: raw
    required: true
  hosts:
    description: The hosts going into maintenance.
    type: list
    elements: str
    required: true
  facts:
    description: "C({host: ansible_facts.vfio_ap}) of every host of the play with AP facts."
    type: dict
    required: true
  prepare:
    description: Preparation of destinations is allowed in this run.
    type: bool
    default: false
  addresses:
    description: "C({host: migration address}) for the printed C(virsh migrate) commands."
    type: dict
"""

EXAMPLES = r"""
- name: Check the approved plan
  ansible.builtin.set_fact:
    approved: >-
      {{ lookup('ansible.builtin.file', plan_file)
         | s390x.vfio_ap._maintenance_approved_plan(hosts=['kvm-a1'],
                                                   facts=(hostvars | s390x.vfio_ap._fleet_facts(ansible_play_hosts)).facts) }}
"""

RETURN = r"""
_value:
  description:
    - "C({plan, skipped, problems}): C(problems) one line per finding (empty when the plan can be
      executed); C(plan) the evacuation plan to execute (null when there are problems); C(skipped)
      the UUIDs of entries whose mdev is no longer on the hosts."
  type: dict
"""

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._approved_plan import approved_plan


def _maintenance_approved_plan(document, hosts, facts, prepare=False, addresses=None):
    """Return the checked plan (see RETURN)."""
    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except ValueError as exc:
            lineno, colno = getattr(exc, "lineno", "?"), getattr(exc, "colno", "?")
            return {"plan": None, "skipped": [], "problems": [f"the plan file is not JSON (line {lineno}, column {colno})"]}
        except RecursionError:
            return {"plan": None, "skipped": [], "problems": ["the plan file nests its JSON too deeply to be an evacuation plan"]}
    try:
        return approved_plan(document, list(hosts or []), dict(facts or {}), bool(prepare), dict(addresses or {}))
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._maintenance_approved_plan: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_maintenance_approved_plan": _maintenance_approved_plan}
