# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter maintenance_outcomes: what happened to each guest of a wave."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_outcomes
short_description: The outcome of each guest of a wave of migrations, refusals in reason codes
version_added: 0.2.0
description:
  - Reads what the C(maintenance) role's tasks registered on the wave's hosts (preparation errors,
    the migrate command's results, the kernel log since the migration started, the facts and
    C(virsh domstate) afterwards, the removal of the source mdevs) and returns one outcome per guest.
  - A refusal is translated into the collection's reason codes from libvirt's and QEMU's error and
    the kernel's lines; a migration that reported success is verified on both hosts.
options:
  _input:
    description: The wave's decisions (P(s390x.vfio_ap.maintenance_check#filter)).
    type: dict
    required: true
  hostvars:
    description:
      - C(hostvars), from which the variables the role's wave tasks registered on the wave's hosts
        are read.
    type: dict
    required: true
  check_mode:
    description: The run is in check mode (nothing ran; guests that would move are C(would_move)).
    type: bool
    default: false
  keep:
    description: Keep destinations prepared for guests that failed (no undo).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Record the wave
  ansible.builtin.set_fact:
    outcome: "{{ steps | s390x.vfio_ap.maintenance_outcomes(hostvars) }}"
"""

RETURN = r"""
_value:
  description:
    - "C(outcomes) (C({uuid: outcome}), see docs/maintenance.md), C(undo) (C({destination: [uuid]})
      preparations to undo), C(undo_actions) (C({destination: [action]}), the actions the destination
      role recorded for those preparations, for its C(undo) entry point), C(moved) (C({source: [uuid]})),
      C(cleanup) (C({source: [{uuid, guest}]}) of the guests that left now or earlier, whose source mdev
      the source mdev policy applies to) and C(failed) (bool)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._maintenance import collect_host_results, wave_result


def maintenance_outcomes(steps, hostvars, check_mode=False, keep=False):
    """Return the outcomes of one wave (see RETURN)."""
    try:
        hosts = list(steps.get("hosts") or []) + [g["source"] for g in steps.get("guests") or []]
        return wave_result(steps, collect_host_results(hostvars, list(dict.fromkeys(hosts))), bool(check_mode), bool(keep))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.maintenance_outcomes: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"maintenance_outcomes": maintenance_outcomes}
