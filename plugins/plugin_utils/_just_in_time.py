# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The just-in-time decision of a drain: each guest of a wave checked again with facts gathered just now.

Between the plan and the migration the fleet may change: a guest may have moved already, stopped,
or been replaced; a planned destination may no longer be ready. :func:`just_in_time` looks at
every guest of a wave with fresh facts and decides what the wave does with it: migrate it to the
planned destination or another ready one, prepare a destination first, report it as already moved,
skip it, or refuse. Every readiness verdict is ``migration_check``'s; the migration command is
``_commands.MigrateCommand``'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._readiness import migration_check
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import FIXABLE_CODES


def host_facts(facts_by_host: Mapping[str, Any], host: str | None) -> Mapping[str, Any] | None:
    """Return ``ansible_facts.vfio_ap`` of a host from a {host: facts} map, or None."""
    value = facts_by_host.get(host) if host else None
    return value if isinstance(value, Mapping) and isinstance(value.get("driver"), Mapping) else None


def active_mdev(facts: Mapping[str, Any] | None, uuid: str) -> Mapping[str, Any] | None:
    """Return the active mdev ``uuid`` of a host's facts, or None."""
    if facts is None:
        return None
    for mdev in facts["driver"].get("mdevs") or []:
        if mdev.get("uuid") == uuid:
            return mdev
    return None


def _running_on(facts_by_host: Mapping[str, Any], uuid: str) -> list[tuple[str, str | None]]:
    """Return ``[(host, guest)]`` of every host in ``facts_by_host`` where mdev ``uuid`` is in use."""
    found = []
    for host in sorted(facts_by_host):
        mdev = active_mdev(host_facts(facts_by_host, host), uuid)
        if mdev is not None and mdev.get("in_use"):
            found.append((host, mdev.get("guest")))
    return found


def _codes(check: Mapping[str, Any] | None) -> list[str]:
    return list(dict.fromkeys(b["code"] for b in (check or {}).get("blockers") or []))


def _where(entry: Mapping[str, Any], facts_by_host: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the step of a guest that is not where the plan left it (moved, gone, two hosts, another guest), else None."""
    uuid, source = entry["uuid"], entry["source"]
    mdev = active_mdev(host_facts(facts_by_host, source), uuid)
    running = _running_on(facts_by_host, uuid)
    elsewhere = [(h, g) for h, g in running if h != source]
    if len(running) > 1:
        return {"codes": ["migration_refused"], "message": f"mdev {uuid} is in use on {', '.join(h for h, _g in running)}"}
    if mdev is None:
        runs = f"; it runs on {elsewhere[0][0]}" if elsewhere else ""
        return {"action": "skip", "codes": ["mdev_gone"], "message": f"{source} has no mdev {uuid} any more{runs}"}
    if not mdev.get("in_use"):
        if elsewhere:
            host, name = elsewhere[0]
            return {"action": "moved", "destination": host, "guest": name or entry.get("guest"), "message": f"already runs on {host}"}
        return {"action": "skip", "codes": ["guest_not_running"], "message": f"{entry.get('guest') or uuid} does not run on {source}"}
    if entry.get("resume"):
        return {"action": "skip", "message": f"runs on {source} again; not in this run's plan"}
    if mdev.get("guest") != entry.get("guest"):
        return {
            "codes": ["migration_refused"],
            "message": f"the plan names guest {entry.get('guest')!r}, but mdev {uuid} on {source} is used by {mdev.get('guest')!r}",
        }
    return None


def _guard_blocks(facts: Mapping[str, Any] | None, uuid: str) -> str | None:
    """Return the reason of a destination's migration-guard entry that disables ``uuid``, or None."""
    guard = (facts or {}).get("driver", {}).get("migration_guard") or {}
    entry = guard.get(uuid) if isinstance(guard, Mapping) else None
    if isinstance(entry, Mapping) and entry.get("migratable") is False:
        return str(entry.get("reason") or "migration disabled")
    return None


def _without_disabled(check: dict[str, Any], source: str) -> dict[str, Any]:
    """Return a check without its ``migration_disabled`` blockers, ``enable_on`` naming where to enable migration.

    The source's own switch (v1 ``migratable`` file, guard) is enabled on the source; a destination
    guard entry on the destination. Ready and ready-after are decided again on the other blockers.
    """
    disabled = [b for b in check.get("blockers") or [] if b.get("code") == "migration_disabled"]
    if not disabled:
        return check
    rest = [b for b in check["blockers"] if b.get("code") != "migration_disabled"]
    on = sorted({b.get("host") or source for b in disabled})
    return {
        **check,
        "blockers": rest,
        "ready": not rest,
        "ready_after": bool(rest) and {b["code"] for b in rest} <= FIXABLE_CODES,
        "enable_on": on,
    }


def _check(entry: Mapping[str, Any], host: str, facts_by_host: Mapping[str, Any], options: DrainOptions) -> dict[str, Any] | None:
    """Return the readiness of the guest on ``host`` now (a destination guard that disables it blocks), or None without facts."""
    source_facts, facts = host_facts(facts_by_host, entry["source"]), host_facts(facts_by_host, host)
    if source_facts is None or facts is None:
        return None
    uuid = entry["uuid"]
    check = migration_check(source_facts, facts, uuid, rules=options.rules, source=entry["source"], destination=host)
    guard = _guard_blocks(facts, uuid)
    if guard is not None:
        blocker = {
            "code": "migration_disabled",
            "apqn": None,
            "host": host,
            "detail": f"the migration guard of {host} disables {uuid}: {guard}",
        }
        check = {**check, "ready": False, "ready_after": False, "blockers": [*check["blockers"], blocker]}
    return _without_disabled(check, entry["source"]) if options.enable else check


class _Load:
    """The destinations a wave has chosen so far: migrations to each and the APQNs they take there."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count: Counter[str] = Counter()
        self.taken: dict[str, set[str]] = {}

    def fits(self, host: str, apqns: set[str]) -> bool:
        return self.count[host] < self.limit and not (apqns & self.taken.get(host, set()))

    def add(self, host: str, apqns: set[str]) -> None:
        self.count[host] += 1
        self.taken.setdefault(host, set()).update(apqns)


def _choose(entry: Mapping[str, Any], checks: Mapping[str, dict[str, Any]], load: _Load, prepare: bool) -> tuple[str | None, str]:
    """Return (destination, ``migrate`` or ``prepare``): the first candidate ready now, else the first ready after preparation."""
    apqns = set(entry.get("apqns") or [])
    order = [h for h in entry.get("candidates") or [entry["destination"]] if h in checks]
    chosen = next((h for h in order if checks[h]["ready"] and load.fits(h, apqns)), None)
    if chosen is None and prepare:
        return next((h for h in order if checks[h]["ready_after"] and load.fits(h, apqns)), None), "prepare"
    return chosen, "migrate"


def _notes(planned: str, chosen: str, action: str, checks: Mapping[str, dict[str, Any]]) -> list[str]:
    """Return what the step's message says about a destination other than the planned one, preparation and enabling."""
    notes = []
    if chosen != planned:
        codes = ", ".join(_codes(checks.get(planned))) if planned in checks else "no facts"
        notes.append(f"{planned} is no longer ready ({codes}); {chosen} chosen")
    if action == "prepare":
        notes.append(f"{chosen} is prepared first ({', '.join(_codes(checks[chosen]))})")
    notes += [f"migration is enabled on {host} first" for host in checks[chosen].get("enable_on") or []]
    return notes


def just_in_time(
    guests: Iterable[Mapping[str, Any]], facts_by_host: Mapping[str, Any], addresses: Mapping[str, Any] | None, options: DrainOptions
) -> dict[str, Any]:
    """Return the decisions for one wave, from facts gathered just before it.

    ``facts_by_host``: the AP facts of the wave's hosts (gathered just now) and of any other host of
    the play (where a guest that already moved may run). ``addresses``: ``{host: migration address}``.

    Result ``{guests, prepare, migrate, watch, hosts, enable}``: ``guests`` one step per guest ``{uuid, guest, source,
    planned, destination, action, rerouted, codes, message, argv, check}`` with ``action``
    ``migrate`` (ready now), ``prepare`` (the destination role runs first, then migrate),
    ``moved`` (the guest already runs on ``destination``: an earlier run moved it), ``skip``
    (it does not run on the source any more) or ``refuse`` (no destination is ready, or the facts
    contradict the plan; ``codes`` are the planned destination's blockers). The guest's name is
    the one the source's facts give the mdev now: a plan entry naming another guest is refused.
    An entry marked ``resume`` (a guest an earlier run planned) is never migrated: it is
    ``moved`` or ``skip``. ``prepare``: ``{destination: [{source, uuid}]}``;
    ``migrate``: ``{source: [{uuid, guest, destination, argv}]}``; ``watch``: ``{host: [guest]}``
    the guests each source and destination of a migration verifies; ``hosts``: those hosts;
    ``enable``: ``{host: [uuid]}`` where migration is disabled for a guest (``migration_disabled``
    of the source, or the destination's guard) and ``options.enable`` allows turning it on before the
    migration; without it such a destination is blocked.
    """
    if not isinstance(options, DrainOptions):
        raise ValueError("options: expected DrainOptions")
    addresses = addresses or {}
    load = _Load(options.per_destination)
    steps = []
    prepare_by: dict[str, dict[str, list[str]]] = {}
    migrate_by: dict[str, list[dict[str, Any]]] = {}
    enable_by: dict[str, list[str]] = {}
    for entry in guests:
        uuid, source, planned = entry["uuid"], entry["source"], entry["destination"]
        step: dict[str, Any] = {"uuid": uuid, "guest": entry.get("guest"), "source": source, "planned": planned, "destination": None,
                                "action": "refuse", "rerouted": False, "codes": [], "message": "", "argv": None, "check": None}  # fmt: skip
        steps.append(step)
        elsewhere = _where(entry, facts_by_host)
        if elsewhere is not None:
            step.update(elsewhere)
            continue
        checks = {h: c for h in entry.get("candidates") or [planned] if (c := _check(entry, h, facts_by_host, options)) is not None}
        chosen, action = _choose(entry, checks, load, options.prepare)
        if chosen is None:
            codes = _codes(checks.get(planned))
            why = ", ".join(codes) if codes else "no facts"
            tail = "" if options.prepare else " (preparation not allowed)"
            step.update(
                codes=codes, check=checks.get(planned), message=f"{planned} is no longer ready ({why}) and no other destination is{tail}"
            )
            continue
        try:
            argv = options.command.argv(entry.get("guest"), chosen, addresses.get(chosen))
        except ValueError as exc:
            step.update(message=str(exc), codes=["migration_refused"])
            continue
        load.add(chosen, set(entry.get("apqns") or []))
        if action == "prepare":
            prepare_by.setdefault(chosen, {}).setdefault(source, []).append(uuid)
        for host in checks[chosen].get("enable_on") or []:
            enable_by.setdefault(host, []).append(uuid)
        message = "; ".join(_notes(planned, chosen, action, checks))
        step.update(action=action, destination=chosen, rerouted=chosen != planned, argv=argv, check=checks[chosen], message=message)
        migrate_by.setdefault(source, []).append({"uuid": uuid, "guest": entry.get("guest"), "destination": chosen, "argv": argv})
    watch: dict[str, list[str]] = {}
    for source, items in migrate_by.items():
        for item in items:
            watch.setdefault(source, []).append(item["guest"])
            watch.setdefault(item["destination"], []).append(item["guest"])
    return {
        "guests": steps,
        "prepare": {h: [{"source": s, "uuid": u} for s, uuids in sorted(v.items()) for u in uuids] for h, v in sorted(prepare_by.items())},
        "migrate": migrate_by,
        "watch": {h: sorted(set(g)) for h, g in sorted(watch.items())},
        "hosts": sorted(watch),
        "enable": enable_by,
    }
