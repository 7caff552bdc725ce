# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter evacuation_plan: one conflict-free destination per guest of the hosts going into maintenance."""

from __future__ import annotations

DOCUMENTATION = r"""
name: evacuation_plan
short_description: Choose a destination for every vfio-ap guest of hosts going into maintenance
version_added: 0.1.0
description:
  - Takes a P(s390x.vfio_ap.migration_plan#filter) whose C(sources) are the hosts to evacuate and
    picks one destination per guest, spreading the load (least-loaded destination first, most
    constrained guests first) so that no two guests placed on one destination share an APQN and
    no destination gets more new mdevs than its C(available_instances).
  - Ready destinations are used first; destinations the destination role can make ready are used
    for the remaining guests (status V(prepare)).
  - Used by the collection's C(pre_maintenance) playbook.
options:
  _input:
    description: A migration plan (schema 1).
    type: dict
    required: true
  prepare:
    description: The playbook will prepare the chosen destinations (then V(prepare) guests count as evacuable).
    type: bool
    default: false
  addresses:
    description: "C({host: address}) used in C(--migrateuri) of the virsh commands (default the host name)."
    type: dict
  capacity:
    description: "C({host: available mdev instances}); hosts not named are unlimited."
    type: dict
"""

EXAMPLES = r"""
- name: Evacuate kvm-a1
  ansible.builtin.debug:
    msg: "{{ (facts | s390x.vfio_ap.migration_plan(sources=['kvm-a1'])) | s390x.vfio_ap.evacuation_plan }}"
"""

RETURN = r"""
_value:
  description:
    - C(schema), C(hosts), C(prepare), C(evacuable) (bool), C(verdict) (one sentence),
      C(summary) (C(guests), C(ready), C(prepare), C(stranded)), C(guests) (per guest C(uuid), C(guest),
      C(source), C(apqns), C(status) ready|prepare|stranded, C(destination), C(prepare), C(reason),
      C(blockers), C(command)) and C(destinations) (per host C(guests) and C(prepare) as
      C([{source, uuids}]), the input of the destination role).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan as _evacuation_plan


def evacuation_plan(plan, prepare=False, addresses=None, capacity=None):
    """Return the evacuation plan (see RETURN)."""
    try:
        return _evacuation_plan(plan, bool(prepare), addresses, capacity)
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.evacuation_plan: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"evacuation_plan": evacuation_plan}
