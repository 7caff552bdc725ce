# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""Reading a fleet's AP facts out of ``hostvars``: the one place the roles' host lists are resolved.

``hostvars`` (or any ``{host: variables}`` mapping) holds, per host, ``ansible_facts.vfio_ap``
once ``s390x.vfio_ap.ap_facts`` ran there (or the fact cache had it) and the inventory variables
``vfio_ap_migration_address`` and ``vfio_ap_migration_level``. The roles ask three questions of it:

- :func:`fleet_facts`: of these hosts, which have AP facts and which not, their facts, migration
  addresses and free mdev instances (the audit's "not audited" list, the maintenance role's fleet);
- :func:`select_hosts`: the variables of named hosts that must all have AP facts (the plan input);
- :func:`mdev_selection`: which mdev UUIDs the user's ``uuids`` and ``guests`` inputs name on
  those hosts, and which of them no host has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import is_uuid
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import require_host_names, require_names

ADDRESS_VARIABLE = "vfio_ap_migration_address"
LEVEL_VARIABLE = "vfio_ap_migration_level"


def facts_of(value: Any, host: str) -> tuple[Mapping, Any]:
    """Return (vfio_ap facts, migration address or None) of one ``{host: value}`` value.

    Accepts the facts dict itself, or a hostvars-like mapping holding it under ``vfio_ap`` or
    ``ansible_facts.vfio_ap`` (then ``vfio_ap_migration_address`` comes from the same mapping).
    Raises ValueError naming the host when there are no facts.
    """
    what = f"facts_by_host[{host!r}]"
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: expected ansible_facts.vfio_ap or the host's hostvars, got {type(value).__name__}")
    facts = _facts_in(value)
    if facts is None:
        raise ValueError(f"{what}: no vfio_ap facts (run s390x.vfio_ap.ap_facts on {host} first)")
    return facts, None if facts is value else value.get(ADDRESS_VARIABLE)


def level_of(value: Any, facts: Mapping) -> Any:
    """Return the inventory's ``vfio_ap_migration_level`` of one ``{host: value}`` value (hostvars), or None.

    A value that is the facts dict itself carries no inventory variables.
    """
    if value is facts or not isinstance(value, Mapping):
        return None
    return value.get(LEVEL_VARIABLE)


def _facts_in(value: Mapping) -> Mapping | None:
    """Return the vfio_ap facts a ``{host: value}`` value holds: the value itself when it is the facts
    dict, else its ``vfio_ap`` or ``ansible_facts.vfio_ap``; None when it holds none."""
    if "ansible_facts" not in value and {"bus", "queues", "driver"} & value.keys():
        return value  # the facts dict itself (the door check says what is wrong with it)
    facts = value.get("vfio_ap")
    return facts if isinstance(facts, Mapping) else gathered_facts(value)


def gathered_facts(host_vars: Any) -> Mapping | None:
    """Return ``ansible_facts.vfio_ap`` of one host's variables, or None when it has none."""
    if not isinstance(host_vars, Mapping):
        return None
    ansible_facts = host_vars.get("ansible_facts")
    facts = ansible_facts.get("vfio_ap") if isinstance(ansible_facts, Mapping) else None
    return facts if isinstance(facts, Mapping) else None


def _variables(host_vars: Any, host: str) -> Mapping | None:
    """Return ``host_vars[host]``, or None when the mapping has no such host."""
    if not isinstance(host_vars, Mapping):
        raise ValueError(f"expected hostvars (a mapping {{host: variables}}), got {type(host_vars).__name__}")
    if host not in host_vars:
        return None
    value = host_vars[host]
    return value if isinstance(value, Mapping) else None


def select_hosts(host_vars: Any, hosts: Any) -> dict[str, Mapping]:
    """Return ``{host: variables}`` for ``hosts``, each of which must be in ``host_vars`` with AP facts.

    Raises one ValueError naming every host that is not in ``host_vars`` and every host without
    ``ansible_facts.vfio_ap`` (facts dicts themselves are accepted as the values too).
    """
    names = require_host_names(hosts, "hosts")
    if not names:
        raise ValueError("hosts: expected at least one inventory host, got an empty list")
    missing, without = [], []
    selected: dict[str, Mapping] = {}
    for name in names:
        value = _variables(host_vars, name)
        if value is None:
            missing.append(name)
        elif _facts_in(value) is None:
            without.append(name)
        else:
            selected[name] = value
    problems = []
    if missing:
        problems.append(f"{', '.join(missing)} not in hostvars (not inventory hosts)")
    if without:
        problems.append(f"{', '.join(without)} without vfio_ap facts (run s390x.vfio_ap.ap_facts there first)")
    if problems:
        raise ValueError("hosts: " + "; ".join(problems))
    return selected


def fleet_facts(host_vars: Any, hosts: Any) -> dict[str, Any]:
    """Return what ``host_vars`` knows of ``hosts``: which have AP facts, their facts, addresses and capacity.

    Result ``{hosts, gathered, missing, facts, addresses, capacity}``: ``hosts`` the names given
    (duplicates dropped, order kept), ``gathered`` those with ``ansible_facts.vfio_ap``,
    ``missing`` the others (also names ``host_vars`` does not have), ``facts``
    ``{host: ansible_facts.vfio_ap}`` and ``capacity`` ``{host: vfio_ap.driver.available_instances}``
    of the gathered hosts, ``addresses`` ``{host: vfio_ap_migration_address}`` of the gathered
    hosts that define it.
    """
    names = require_host_names(hosts, "hosts")
    gathered, missing = [], []
    facts: dict[str, Mapping] = {}
    addresses: dict[str, Any] = {}
    capacity: dict[str, Any] = {}
    for name in names:
        value = _variables(host_vars, name)
        found = gathered_facts(value)
        if value is None or found is None:
            missing.append(name)
            continue
        gathered.append(name)
        facts[name] = found
        vfio = found.get("driver")
        capacity[name] = vfio.get("available_instances") if isinstance(vfio, Mapping) else None
        if ADDRESS_VARIABLE in value:
            addresses[name] = value[ADDRESS_VARIABLE]
    return {"hosts": names, "gathered": gathered, "missing": missing, "facts": facts, "addresses": addresses, "capacity": capacity}


def _host_mdevs(host_vars: Any, name: str) -> list[Mapping]:
    facts = gathered_facts(_variables(host_vars, name))
    vfio = facts.get("driver") if facts is not None else None
    mdevs = vfio.get("mdevs") if isinstance(vfio, Mapping) else None
    return [m for m in mdevs or [] if isinstance(m, Mapping)]


def mdev_selection(host_vars: Any, hosts: Any, uuids: Any = None, guests: Any = None) -> dict[str, Any]:
    """Return the mdevs the inputs ``uuids`` and ``guests`` name on ``hosts``.

    Result ``{uuids, unknown_uuids, unknown_guests, not_uuids, elsewhere, guests_here}``: ``uuids``
    the UUIDs given (lower case) and then those of the hosts' mdevs whose guest is named, without
    duplicates, in that order; ``unknown_uuids`` the UUIDs given that no host has as an mdev (among
    them ``not_uuids``, those that are not written as a UUID at all); ``unknown_guests`` the guests
    no mdev of the hosts belongs to; ``elsewhere`` ``{unknown UUID or guest: [hosts]}`` for those
    that other hosts of ``host_vars`` with AP facts have; ``guests_here`` the guests of ``hosts``,
    sorted. Hosts without AP facts (or not in ``host_vars``) have no mdevs.
    """
    wanted_uuids = require_names(uuids, "uuids", lower=True)
    wanted_guests = require_names(guests, "guests")
    names = require_host_names(hosts, "hosts")
    mdevs = [m for name in names for m in _host_mdevs(host_vars, name)]
    known_uuids = {str(m.get("uuid")) for m in mdevs}
    known_guests = {m.get("guest") for m in mdevs if isinstance(m.get("guest"), str)}
    from_guests = [str(m.get("uuid")) for m in mdevs if m.get("guest") in wanted_guests]
    unknown_uuids = [u for u in dict.fromkeys(wanted_uuids) if u not in known_uuids]
    unknown_guests = [g for g in dict.fromkeys(wanted_guests) if g not in known_guests]
    elsewhere: dict[str, list[str]] = {}
    if (unknown_uuids or unknown_guests) and isinstance(host_vars, Mapping):
        for other in sorted(str(h) for h in host_vars if str(h) not in names):
            for mdev in _host_mdevs(host_vars, other):
                for key in (str(mdev.get("uuid")), mdev.get("guest")):
                    if key in unknown_uuids or key in unknown_guests:
                        elsewhere.setdefault(key, [])
                        if other not in elsewhere[key]:
                            elsewhere[key].append(other)
    return {
        "uuids": list(dict.fromkeys(wanted_uuids + from_guests)),
        "unknown_uuids": unknown_uuids,
        "unknown_guests": unknown_guests,
        "not_uuids": [u for u in unknown_uuids if not is_uuid(u)],
        "elsewhere": elsewhere,
        "guests_here": sorted(known_guests),
    }
