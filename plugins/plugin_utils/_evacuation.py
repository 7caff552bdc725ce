# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""Evacuation of hosts going into maintenance: one destination per vfio-ap guest.

Input is a ``migration_plan`` (docs/plan-schema.md) whose sources are the hosts to evacuate.
The plan says which destinations each guest could use; this module chooses one per guest so that
the chosen guests fit together:

- no two guests placed on the same destination share an APQN (the kernel lets an APQN belong to
  one mdev only, so the second migration would fail with EADDRINUSE);
- a destination takes no more new mdevs than its ``available_instances`` (when known);
- load is spread: the least-loaded fitting destination wins (ties by name), and the guests with
  the fewest candidates are placed first.

Ready destinations are used first; destinations that are ready after preparation are used only
when ``prepare`` is true (the playbook then runs the destination role on them) — otherwise such a
guest is reported as needing preparation, with the destination it would get.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, cast

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._advice import nearest_text
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import migrate_command
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan_shape import require_plan, listed_hosts, not_audited_sources

SCHEMA = 1


def _require_plan(plan: Any) -> Mapping[str, Any]:
    return require_plan(plan, "evacuation")


def _new_mdev_hosts(guest: Mapping[str, Any]) -> set[str]:
    """Return the listed ready-after destinations where preparation creates the guest's mdev."""
    groups = (guest.get("ready_after") or {}).get("preparations") or []
    return {host for group in groups if "mdev_missing" in group.get("codes", ()) for host in group.get("hosts", ())}


def _blocker_codes(guest: Mapping[str, Any]) -> list[str]:
    """Return the blocker codes of a plan entry: over its blocked destinations, then the source's."""
    return sorted((guest.get("blocked") or {}).get("reasons") or {}) + [b.get("code") for b in guest.get("source_blockers") or []]


def _place(
    guests: list[Mapping[str, Any]],
    pools: dict[str, list[str]],
    capacity: Mapping[str, Any],
    seed: Iterable[tuple[Mapping[str, Any], str]] = (),
) -> dict[str, tuple[str | None, str | None]]:
    """Return {uuid: (destination or None, why not placed or None)} for guests over their candidate pools.

    seed: (guest, destination) pairs already placed, whose load and APQNs count.
    """
    load: Counter[str] = Counter()
    new_mdevs: Counter[str] = Counter()
    taken: dict[str, set[str]] = {}
    placed: dict[str, tuple[str | None, str | None]] = {}
    for guest, host in seed:
        load[host] += 1
        taken.setdefault(host, set()).update(guest.get("apqns") or [])
        if host in _new_mdev_hosts(guest):
            new_mdevs[host] += 1
    order = sorted(guests, key=lambda g: (len(pools[g["uuid"]]), g.get("source") or "", g["uuid"]))
    for guest in order:
        apqns = set(guest.get("apqns") or [])
        needs_mdev = _new_mdev_hosts(guest)
        fitting = []
        full = conflicted = 0
        for host in pools[guest["uuid"]]:
            if apqns & taken.get(host, set()):
                conflicted += 1
                continue
            limit = capacity.get(host)
            if host in needs_mdev and limit is not None and new_mdevs[host] >= int(limit):
                full += 1
                continue
            fitting.append(host)
        if not fitting:
            if not pools[guest["uuid"]]:
                why = "no destination is ready" + ("" if guest.get("verdict") == "ready" else " or can be made ready")
                closest = nearest_text(guest)
                why += f" ({closest})" if closest else ""
            else:
                why = f"every candidate is taken: {conflicted} by a guest with a shared APQN, {full} without free mdev instances"
            placed[guest["uuid"]] = (None, why)
            continue
        host = min(fitting, key=lambda name: (load[name], name))
        load[host] += 1
        taken.setdefault(host, set()).update(apqns)
        if host in needs_mdev:
            new_mdevs[host] += 1
        placed[guest["uuid"]] = (host, None)
    return placed


def evacuation_plan(
    plan: Mapping[str, Any], prepare: bool = False, addresses: Mapping[str, Any] | None = None, capacity: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the evacuation of the plan's source hosts: a destination and a virsh command per guest.

    ``addresses``: {host: migration address} for ``--migrateuri`` (default: the host name).
    ``capacity``: {host: available mdev instances} (hosts not named are unlimited).
    Result: ``{schema, hosts, prepare, evacuable, verdict, summary, guests, destinations}``; each guest
    ``{uuid, guest, source, apqns, status, destination, prepare, reason, blockers, command}`` with
    status ``ready`` (its destination is ready now), ``prepare`` (its destination needs the
    destination role first) or ``stranded`` (nowhere to go).
    """
    plan = _require_plan(plan)
    addresses = dict(addresses or {})
    capacity = dict(capacity or {})
    guests = [g for g in plan["guests"] if g.get("guest")]  # idle mdevs need not leave
    ready_pools = {g["uuid"]: listed_hosts(g, "ready") for g in guests}
    # First pass: ready destinations only; second: the rest over ready_after (and ready) ones.
    placed = _place(guests, ready_pools, capacity)
    rest = [g for g in guests if placed[g["uuid"]][0] is None and listed_hosts(g, "ready_after")]
    if rest:
        seed = [(g, cast(str, placed[g["uuid"]][0])) for g in guests if placed[g["uuid"]][0] is not None]
        pools = {g["uuid"]: listed_hosts(g, "ready") + listed_hosts(g, "ready_after") for g in rest}
        placed.update(_place(rest, pools, capacity, seed))
    entries = []
    for g in guests:
        host, why = placed[g["uuid"]]
        needs_prep = host is not None and host not in listed_hosts(g, "ready")
        status = "stranded" if host is None else "prepare" if needs_prep else "ready"
        command = None
        if host is not None and g.get("guest"):
            try:
                command = migrate_command(g["guest"], host, addresses.get(host) or host)
            except ValueError as exc:
                why = str(exc)
        entries.append(
            {
                "uuid": g["uuid"],
                "guest": g.get("guest"),
                "source": g.get("source"),
                "apqns": list(g.get("apqns") or []),
                "status": status,
                "destination": host,
                "prepare": needs_prep,
                "reason": why,
                "blockers": _blocker_codes(g),
                "command": command,
            }
        )
    return evacuation_document(list(plan.get("sources") or []), entries, prepare, not_audited_sources(plan))


def evacuation_document(
    hosts: list[str], entries: list[dict[str, Any]], prepare: bool, unaudited: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the evacuation plan of ``hosts`` from its guest entries: verdict, summary and destinations computed.

    ``unaudited``: {host: verdict} of the hosts whose facts are not complete; the plan is then never evacuable.

    An entry's ``status`` is ``ready``, ``prepare``, ``stranded`` or ``skipped`` (an approved plan's
    entry whose guest is no longer on the hosts; not counted in the verdict).
    """
    counts = Counter(e["status"] for e in entries)
    destinations: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e["status"] in ("ready", "prepare") and e["destination"] is not None:
            slot = destinations.setdefault(e["destination"], {"guests": [], "prepare": {}})
            slot["guests"].append(e["uuid"])
            if e["prepare"]:
                slot["prepare"].setdefault(e["source"], []).append(e["uuid"])
    total = len(entries) - counts["skipped"]
    stranded = counts["stranded"]
    waiting = counts["prepare"] if not prepare else 0
    evacuable = stranded == 0 and waiting == 0
    names = ", ".join(hosts)
    if evacuable:
        verdict = f"every vfio-ap guest of {names} has a destination" + (" (after preparation)" if counts["prepare"] else "")
    elif stranded:
        verdict = f"{stranded} of {total} vfio-ap guests of {names} have nowhere to go"
    else:
        verdict = (
            f"{waiting} of {total} vfio-ap guests of {names} need a destination prepared first (set vfio_ap_maintenance_prepare: true)"
        )
    if unaudited:  # its guests may not all be known: never "every guest has a destination"
        verdict = "; ".join([*unaudited.values(), *([] if evacuable else [verdict])])
        evacuable = False
    summary = {"guests": total, "ready": counts["ready"], "prepare": counts["prepare"], "stranded": stranded}
    if counts["skipped"]:
        summary["skipped"] = counts["skipped"]
    return {
        "schema": SCHEMA,
        "hosts": list(hosts),
        "prepare": bool(prepare),
        "evacuable": evacuable,
        "verdict": verdict,
        "summary": summary,
        "guests": entries,
        "destinations": {
            h: {"guests": sorted(v["guests"]), "prepare": [{"source": s, "uuids": sorted(u)} for s, u in sorted(v["prepare"].items())]}
            for h, v in sorted(destinations.items())
        },
    }
