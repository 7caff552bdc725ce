# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter maintenance_check: the just-in-time decision for one wave of migrations."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_check
short_description: Check the guests of a wave again, just before they migrate, and decide
version_added: 0.2.0
description:
  - Runs P(s390x.vfio_ap.migration_check#filter) again for each guest of a wave (from
    P(s390x.vfio_ap.maintenance_waves#filter)) with facts gathered just now, and decides per guest
    C(migrate) (the planned destination, or another ready one), C(prepare) (the destination role runs
    first; only with O(prepare)), C(moved) (it already runs elsewhere), C(skip) (it no longer runs on
    the source) or C(refuse) (with the blocker codes of the planned destination).
  - The guest's name is the one the source's facts give its mdev now; an entry naming another guest
    is refused. The guest is passed as the value of C(--domain), the URI as the value of C(--desturi).
  - "A destination whose migration guard disables the mdev counts as blocked (C(migration_disabled)) -
    the collection's libvirt hook there would refuse the migration."
options:
  _input:
    description: The guests of one wave.
    type: list
    elements: dict
    required: true
  facts:
    description: "C({host: ansible_facts.vfio_ap}) of the wave's hosts."
    type: dict
    required: true
  rules:
    description: Compatibility rules (see P(s390x.vfio_ap.migration_check#filter)).
    type: str
    default: auto
  prepare:
    description: A destination may be prepared with the destination role.
    type: bool
    default: false
  per_destination:
    description: Migrations at once to one destination.
    type: int
    default: 1
  addresses:
    description: "C({host: migration address}) for C(--migrateuri)."
    type: dict
  command:
    description: The migrate command, e.g. C([virsh, migrate]).
    type: list
    elements: str
  options:
    description: Options of the migrate command.
    type: list
    elements: str
  timeout:
    description: C(--timeout) of C(virsh migrate) (seconds; 0 for none).
    type: int
  uri:
    description: Destination URI with C({host}).
    type: str
    default: qemu+ssh://{host}/system
  enable:
    description:
      - Migration that is disabled for a guest (the source's C(migratable) attribute or guard, or
        the destination's guard) may be enabled before the migration (listed in C(enable));
        otherwise C(migration_disabled) blocks.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Decide for this wave
  ansible.builtin.set_fact:
    steps: "{{ wave.guests | s390x.vfio_ap.maintenance_check(facts, prepare=true) }}"
"""

RETURN = r"""
_value:
  description:
    - "C(guests) (per guest C(uuid), C(guest), C(source), C(planned), C(destination), C(action),
      C(rerouted), C(codes), C(message), C(argv), C(check)), C(prepare) (C({destination:
      [{source, uuid}]})), C(migrate) (C({source: [{uuid, guest, destination, argv}]})), C(watch)
      (C({host: [guest]}) to verify on each host), C(hosts) and C(enable) (C({host: [uuid]}) where
      migration is enabled first)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import MigrateCommand
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._maintenance import just_in_time


def maintenance_check(
    guests,
    facts,
    rules="auto",
    prepare=False,
    per_destination=1,
    addresses=None,
    command=None,
    options=None,
    timeout=None,
    uri=None,
    enable=False,
):
    """Return the decisions of one wave (see RETURN)."""
    default = MigrateCommand()
    try:
        how = MigrateCommand.of(
            command if command else default.command,
            options if options is not None else default.options,
            timeout,
            uri or default.uri,
        )
        return just_in_time(
            list(guests),
            dict(facts),
            rules=rules,
            prepare=bool(prepare),
            per_destination=per_destination,
            addresses=dict(addresses or {}),
            how=how,
            enable=bool(enable),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.maintenance_check: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"maintenance_check": maintenance_check}
