# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter maintenance_waves: the order in which the maintenance role migrates the guests."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_waves
short_description: Order the guests of an evacuation plan into waves of migrations
version_added: 0.2.0
description:
  - Takes a P(s390x.vfio_ap.evacuation_plan#filter) result and returns the waves the C(maintenance)
    role runs, in the plan's order, with at most O(per_source) migrations from one source and
    O(per_destination) to one destination at a time.
  - Each guest of a wave carries C(candidates), the planned destination first, then every other
    destination the O(plan) lists as ready or ready after preparation (used when the just-in-time
    check finds the planned one changed).
options:
  _input:
    description: An evacuation plan.
    type: dict
    required: true
  plan:
    description: The P(s390x.vfio_ap.migration_plan#filter) the evacuation was chosen from.
    type: dict
  per_source:
    description: Migrations at once from one source host.
    type: int
    default: 1
  per_destination:
    description: Migrations at once to one destination host.
    type: int
    default: 1
  prepare:
    description: Preparation is allowed (guests whose destination needs it are run, not held).
    type: bool
    default: false
  previous:
    description:
      - The C(evacuation.json) document of an earlier run of the same hosts (written when a drain
        starts and when it ends). Its guests this plan does not list form a first wave that
        migrates nothing - the just-in-time check reports each as C(already_moved) (with the source
        mdev policy applied) when it runs elsewhere now, else as C(skipped).
    type: dict
"""

EXAMPLES = r"""
- name: Order the migrations
  ansible.builtin.set_fact:
    waves: "{{ evacuation | s390x.vfio_ap.maintenance_waves(plan=plan, per_source=2) }}"
"""

RETURN = r"""
_value:
  description:
    - "C(waves) (each C({index, guests, hosts})) and C(held) (C({uuid: stranded|needs_preparation|skipped})
      for guests that are not run)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._maintenance import execution_waves


def maintenance_waves(evacuation, plan=None, per_source=1, per_destination=1, prepare=False, previous=None):
    """Return the waves (see RETURN)."""
    try:
        return execution_waves(evacuation, plan, per_source, per_destination, bool(prepare), previous)
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.maintenance_waves: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"maintenance_waves": maintenance_waves}
