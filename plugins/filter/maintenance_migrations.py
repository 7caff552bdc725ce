# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter maintenance_migrations: the migrations of a wave whose destination was prepared."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_migrations
short_description: The migrations of a wave that go ahead, without those whose preparation failed
version_added: 0.2.0
description:
  - From the decisions of a wave (P(s390x.vfio_ap.maintenance_check#filter)) returns each source's
    migrations, leaving out every guest whose destination the C(destination) role could not prepare
    (the preparation errors the C(maintenance) role recorded on the wave's hosts).
options:
  _input:
    description: The wave's decisions (P(s390x.vfio_ap.maintenance_check#filter)).
    type: dict
    required: true
  hostvars:
    description: C(hostvars), from which the preparation errors recorded on the wave's hosts are read.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide which migrations go
  ansible.builtin.set_fact:
    migrations: "{{ steps | s390x.vfio_ap.maintenance_migrations(hostvars) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: "C({source: [{uuid, guest, destination, argv}]})."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._maintenance import collect_host_results, migrations_to_run


def maintenance_migrations(steps, hostvars):
    """Return the migrations that go ahead (see RETURN)."""
    try:
        return migrations_to_run(steps, collect_host_results(hostvars, steps.get("hosts") or []))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.maintenance_migrations: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"maintenance_migrations": maintenance_migrations}
