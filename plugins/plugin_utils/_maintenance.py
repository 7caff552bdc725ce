# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""Draining hosts for maintenance: the decisions of the ``maintenance`` role, as pure functions.

The role runs the steps (gather facts, prepare, ``virsh migrate``, read the kernel log, verify);
every decision between the steps is made here:

- :func:`execution_waves` orders the guests of an evacuation plan into waves that respect the
  per-source and per-destination limits, in the plan's order;
- :func:`just_in_time` checks each guest of a wave again with fresh facts (``migration_check``)
  and decides: migrate to the planned destination, to another ready one, prepare one first,
  skip a guest that already moved, or refuse;
- the ``virsh migrate`` command line comes from ``_commands.MigrateCommand`` (the one builder);
- :func:`verify_move` says what is wrong after a migration that reported success;
- :func:`wave_outcomes` turns the results of a wave's steps into one outcome per guest, with
  refusals translated into reason codes by ``_refusals.refusal_codes``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan_shape import listed_hosts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import FIXABLE_CODES
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import MigrateCommand
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import CLEANUP_FAILED
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._readiness import migration_check
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._refusals import kernel_lines, refusal_codes

SOURCE_MDEV_POLICIES = ("keep", "stop", "undefine")
DEFAULT_COMMAND = MigrateCommand()
FAILURE_POLICIES = ("stop", "continue")

# Outcome codes of the execution itself (not readiness codes: see docs/maintenance.md).
EXECUTION_CODES = {
    "guest_not_running": "the guest no longer runs on the source (and runs nowhere the run looked)",
    "mdev_gone": "the source mdev no longer exists",
    "preparation_failed": "the destination role could not prepare the destination",
    "migration_refused": "virsh migrate failed for a reason this collection cannot name",
    "migration_timeout": "virsh migrate did not finish within vfio_ap_maintenance_job_timeout",
    "hook_refused": "a libvirt hook on the destination refused the incoming migration",
    "verification_failed": "virsh reported success, but the guest is not running on the destination as expected",
    "not_attempted": "not attempted: an earlier guest failed and vfio_ap_maintenance_on_failure is stop",
}


def _facts(facts_by_host: Mapping[str, Any], host: str | None) -> Mapping[str, Any] | None:
    """Return ``ansible_facts.vfio_ap`` of a host from a {host: facts} map, or None."""
    value = facts_by_host.get(host) if host else None
    return value if isinstance(value, Mapping) and isinstance(value.get("driver"), Mapping) else None


def _mdev(facts: Mapping[str, Any] | None, uuid: str) -> Mapping[str, Any] | None:
    """Return the active mdev ``uuid`` of a host's facts, or None."""
    if facts is None:
        return None
    for mdev in facts["driver"].get("mdevs") or []:
        if mdev.get("uuid") == uuid:
            return mdev
    return None


def _positive(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return number


def _candidates(entry: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """Return (ready, ready_after) destinations a migration_plan entry lists, in the plan's order."""
    if entry is None:
        return [], []
    ready = listed_hosts(entry, "ready")
    return ready, sorted(set(listed_hosts(entry, "ready_after")) - set(ready))


def resume_entries(previous: Any, evacuation: Mapping[str, Any], limit: int = 10000) -> list[dict[str, Any]]:
    """Return the guests of an earlier run's report (``previous``) that this run's plan does not list, as ``resume`` entries.

    ``previous``: the ``evacuation.json`` found in the report directory (its text, or the document; written at the start of a
    drain and at its end); it counts only when it is for the same hosts. Its guests may have left
    their host in that run (even one that was interrupted): each becomes ``{uuid, guest, source,
    destination, status: ready, apqns: [], resume: true}``, which the just-in-time check reports as
    ``moved`` (with the source-mdev policy applied) or ``skip``, and never migrates. Entries that
    are not well formed are left out; at most ``limit`` are read.
    """
    if isinstance(previous, str):
        try:
            previous = json.loads(previous) if previous.strip() else None
        except (ValueError, RecursionError):
            return []
    if not isinstance(previous, Mapping) or not isinstance(previous.get("guests"), list):
        return []
    hosts = [h for h in evacuation.get("hosts") or [] if isinstance(h, str)]
    if not isinstance(previous.get("hosts"), list) or sorted(map(str, previous["hosts"])) != sorted(hosts):
        return []
    planned = {g.get("uuid") for g in evacuation.get("guests") or [] if isinstance(g, Mapping)}
    out: dict[str, dict[str, Any]] = {}
    for g in previous["guests"][:limit]:
        if not isinstance(g, Mapping):
            continue
        uuid, source = g.get("uuid"), g.get("source")
        if not isinstance(uuid, str) or not _UUID.match(uuid) or source not in hosts or uuid.lower() in planned or uuid.lower() in out:
            continue
        destination = g.get("actual_destination") or g.get("destination")
        out[uuid.lower()] = {
            "uuid": uuid.lower(),
            "guest": g.get("guest") if isinstance(g.get("guest"), str) else None,
            "source": source,
            "destination": destination if isinstance(destination, str) else None,
            "status": "ready",
            "apqns": [],
            "resume": True,
        }
    return list(out.values())


def execution_waves(
    evacuation: Mapping[str, Any],
    plan: Mapping[str, Any] | None = None,
    per_source: Any = 1,
    per_destination: Any = 1,
    prepare: bool = False,
    previous: Any = None,
) -> dict[str, Any]:
    """Return the order of execution: ``{waves, held, resumed, sources}``.

    ``waves``: lists of guests run at the same time, ``[{index, guests, hosts}]``; each guest is an
    evacuation entry plus ``candidates`` (every destination the plan lists as ready, then ready after
    preparation, the planned one first). A wave holds at most ``per_source`` guests of one source and
    ``per_destination`` guests for one destination; the guests keep the plan's order (a guest never
    runs before one listed earlier). ``hosts``: sources, planned destinations and candidates of the
    wave (whose facts the just-in-time check needs). ``held``: ``{uuid: result}`` of guests that are
    not run: ``stranded`` (nowhere to go), ``needs_preparation`` (preparation not allowed) or
    ``skipped`` (an approved plan's entry whose mdev is no longer on the hosts).

    ``previous``: an earlier run's report; its guests this plan does not list (:func:`resume_entries`)
    form a first wave that migrates nothing (every host of ``plan`` is among its hosts); they are
    also listed as ``resumed``. ``sources``: the hosts the waves migrate guests from.
    """
    if not isinstance(evacuation, Mapping) or not isinstance(evacuation.get("guests"), list):
        raise ValueError("execution_waves: expected an evacuation_plan result (with 'guests')")
    limit_source = _positive(per_source, "per_source")
    limit_destination = _positive(per_destination, "per_destination")
    by_uuid = {g.get("uuid"): g for g in (plan or {}).get("guests") or []}
    waves: list[dict[str, Any]] = []
    held: dict[str, str] = {}
    resumed = resume_entries(previous, evacuation)
    if resumed:
        every = set((plan or {}).get("sources") or []) | set((plan or {}).get("destinations") or [])
        hosts = every | {e["source"] for e in resumed} | {e["destination"] for e in resumed if e["destination"]}
        guests = [{**e, "candidates": [e["destination"]] if e["destination"] else []} for e in resumed]
        waves.append({"index": 1, "guests": guests, "hosts": sorted(hosts)})
    sources: Counter[str] = Counter()
    destinations: Counter[str] = Counter()
    fresh = True
    for entry in evacuation["guests"]:
        if entry.get("status") == "skipped":
            held[entry["uuid"]] = "skipped"
            continue
        if entry.get("destination") is None:
            held[entry["uuid"]] = "stranded"
            continue
        if entry.get("status") == "prepare" and not prepare:
            held[entry["uuid"]] = "needs_preparation"
            continue
        ready, after = _candidates(by_uuid.get(entry["uuid"]))
        planned = entry["destination"]
        candidates = [planned] + [h for h in ready + after if h != planned and h != entry.get("source")]
        if fresh or sources[entry["source"]] >= limit_source or destinations[planned] >= limit_destination:
            waves.append({"index": len(waves) + 1, "guests": [], "hosts": []})
            sources.clear()
            destinations.clear()
            fresh = False
        wave = waves[-1]
        wave["guests"].append({**entry, "candidates": candidates})
        sources[entry["source"]] += 1
        destinations[planned] += 1
        wave["hosts"] = sorted(set(wave["hosts"]) | {entry["source"], *candidates})
    migrating = sorted({g["source"] for w in waves for g in w["guests"] if not g.get("resume")})
    return {"waves": waves, "held": held, "resumed": resumed, "sources": migrating}


def _fits(host: str, apqns: set[str], taken: Mapping[str, set[str]], load: Counter[str], limit: int) -> bool:
    return load[host] < limit and not (apqns & taken.get(host, set()))


def _guard_blocks(facts: Mapping[str, Any] | None, uuid: str) -> str | None:
    """Return the reason of a destination's migration-guard entry that disables ``uuid``, or None."""
    guard = (facts or {}).get("driver", {}).get("migration_guard") or {}
    entry = guard.get(uuid) if isinstance(guard, Mapping) else None
    if isinstance(entry, Mapping) and entry.get("migratable") is False:
        return str(entry.get("reason") or "migration disabled")
    return None


def _codes(check: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(b["code"] for b in check.get("blockers") or []))


def _without_disabled(check: dict[str, Any], source: str, destination: str) -> dict[str, Any]:
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


def _running_on(facts_by_host: Mapping[str, Any], uuid: str) -> list[tuple[str, str | None]]:
    """Return ``[(host, guest)]`` of every host in ``facts_by_host`` where mdev ``uuid`` is in use."""
    found = []
    for host in sorted(facts_by_host):
        mdev = _mdev(_facts(facts_by_host, host), uuid)
        if mdev is not None and mdev.get("in_use"):
            found.append((host, mdev.get("guest")))
    return found


def just_in_time(
    guests: Iterable[Mapping[str, Any]],
    facts_by_host: Mapping[str, Any],
    *,
    rules: str = "auto",
    prepare: bool = False,
    per_destination: Any = 1,
    addresses: Mapping[str, Any] | None = None,
    how: MigrateCommand = DEFAULT_COMMAND,
    enable: bool = False,
) -> dict[str, Any]:
    """Return the decisions for one wave, from facts gathered just before it.

    ``facts_by_host``: the AP facts of the wave's hosts (gathered just now) and of any other host of
    the play (where a guest that already moved may run). ``how``: the migration command.

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
    of the source, or the destination's guard) and ``enable`` allows turning it on before the
    migration; without ``enable`` such a destination is blocked.
    """
    limit = _positive(per_destination, "per_destination")
    if not isinstance(how, MigrateCommand):
        raise ValueError("how: expected the migration command (MigrateCommand)")
    addresses = addresses or {}
    load: Counter[str] = Counter()
    taken: dict[str, set[str]] = {}
    steps = []
    prepare_by: dict[str, dict[str, list[str]]] = {}
    migrate_by: dict[str, list[dict[str, Any]]] = {}
    enable_by: dict[str, list[str]] = {}
    for entry in guests:
        uuid, source, planned = entry["uuid"], entry["source"], entry["destination"]
        step: dict[str, Any] = {
            "uuid": uuid,
            "guest": entry.get("guest"),
            "source": source,
            "planned": planned,
            "destination": None,
            "action": "refuse",
            "rerouted": False,
            "codes": [],
            "message": "",
            "argv": None,
            "check": None,
        }
        steps.append(step)
        src_facts = _facts(facts_by_host, source)
        mdev = _mdev(src_facts, uuid)
        running = _running_on(facts_by_host, uuid)
        elsewhere = [(h, g) for h, g in running if h != source]
        if len(running) > 1:
            step.update(codes=["migration_refused"], message=f"mdev {uuid} is in use on {', '.join(h for h, _g in running)}")
            continue
        if mdev is None:
            runs = f"; it runs on {elsewhere[0][0]}" if elsewhere else ""
            step.update(action="skip", codes=["mdev_gone"], message=f"{source} has no mdev {uuid} any more{runs}")
            continue
        if not mdev.get("in_use"):
            if elsewhere:
                host, name = elsewhere[0]
                step.update(action="moved", destination=host, guest=name or step["guest"], message=f"already runs on {host}")
            else:
                step.update(action="skip", codes=["guest_not_running"], message=f"{entry.get('guest') or uuid} does not run on {source}")
            continue
        if entry.get("resume"):
            step.update(action="skip", message=f"runs on {source} again; not in this run's plan")
            continue
        name = mdev.get("guest")
        if name != entry.get("guest"):
            step.update(
                codes=["migration_refused"],
                message=f"the plan names guest {entry.get('guest')!r}, but mdev {uuid} on {source} is used by {name!r}",
            )
            continue
        apqns = set(entry.get("apqns") or [])
        checks: dict[str, dict[str, Any]] = {}
        for host in entry.get("candidates") or [planned]:
            dst_facts = _facts(facts_by_host, host)
            if dst_facts is None or src_facts is None:
                continue
            check = migration_check(src_facts, dst_facts, uuid, rules=rules, source=source, destination=host)
            guard = _guard_blocks(dst_facts, uuid)
            if guard is not None:
                check = {
                    **check,
                    "ready": False,
                    "ready_after": False,
                    "blockers": list(check["blockers"])
                    + [
                        {
                            "code": "migration_disabled",
                            "apqn": None,
                            "host": host,
                            "detail": f"the migration guard of {host} disables {uuid}: {guard}",
                        }
                    ],
                }
            if enable:
                check = _without_disabled(check, source, host)
            checks[host] = check
        order = [h for h in entry.get("candidates") or [planned] if h in checks]
        chosen = next((h for h in order if checks[h]["ready"] and _fits(h, apqns, taken, load, limit)), None)
        action = "migrate"
        if chosen is None and prepare:
            chosen = next((h for h in order if checks[h]["ready_after"] and _fits(h, apqns, taken, load, limit)), None)
            action = "prepare"
        planned_check = checks.get(planned)
        if chosen is None:
            codes = _codes(planned_check) if planned_check else []
            why = ", ".join(codes) if codes else "no facts"
            step.update(
                codes=codes,
                check=planned_check,
                message=f"{planned} is no longer ready ({why}) and no other destination is"
                + ("" if prepare else " (preparation not allowed)"),
            )
            continue
        try:
            argv = how.argv(name, chosen, addresses.get(chosen))
        except ValueError as exc:
            step.update(message=str(exc), codes=["migration_refused"])
            continue
        load[chosen] += 1
        taken.setdefault(chosen, set()).update(apqns)
        notes = []
        if chosen != planned:
            notes.append(
                f"{planned} is no longer ready ({', '.join(_codes(planned_check)) if planned_check else 'no facts'}); {chosen} chosen"
            )
        if action == "prepare":
            notes.append(f"{chosen} is prepared first ({', '.join(_codes(checks[chosen]))})")
            slot = prepare_by.setdefault(chosen, {})
            slot.setdefault(source, []).append(uuid)
        for host in checks[chosen].get("enable_on") or []:
            enable_by.setdefault(host, []).append(uuid)
            notes.append(f"migration is enabled on {host} first")
        step.update(
            action=action, destination=chosen, rerouted=chosen != planned, argv=argv, check=checks[chosen], message="; ".join(notes)
        )
        migrate_by.setdefault(source, []).append({"uuid": uuid, "guest": name, "destination": chosen, "argv": argv})
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


def verify_move(
    uuid: str,
    guest: str,
    apqns: Iterable[str],
    source_facts: Mapping[str, Any] | None,
    destination_facts: Mapping[str, Any] | None,
    domstate: str | None,
    source_domstate: str | None,
) -> list[str]:
    """Return what contradicts a finished migration (empty when the guest moved as it should).

    Destination: ``virsh domstate`` says running, the mdev exists, is in use, and its guest APQNs are
    the source guest's. Source: the guest does not run there, and its mdev (if still there) is idle.
    """
    problems = []
    state = (domstate or "").strip().splitlines()[0].strip() if (domstate or "").strip() else ""
    if state != "running":
        problems.append(f"virsh domstate {guest} on the destination says {state or 'nothing'!r}, not 'running'")
    dst = _mdev(destination_facts, uuid)
    if destination_facts is None:
        problems.append("no facts of the destination after the migration")
    elif dst is None:
        problems.append(f"the destination has no mdev {uuid}")
    else:
        if not dst.get("in_use"):
            problems.append(f"the destination mdev {uuid} is not in use")
        wanted = sorted(apqns)
        got = sorted(dst.get("guest_apqns") or [])
        if got != wanted:
            problems.append(f"the destination mdev gives the guest {', '.join(got) or 'no APQNs'}, not {', '.join(wanted)}")
    src_state = (source_domstate or "").strip().splitlines()[0].strip() if (source_domstate or "").strip() else ""
    if src_state == "running":
        problems.append(f"{guest} still runs on the source")
    src = _mdev(source_facts, uuid)
    if src is not None and src.get("in_use"):
        problems.append(f"the source mdev {uuid} is still in use")
    return problems


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DELTA = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def seconds(delta: Any) -> float | None:
    """Return the seconds of a command result's ``delta`` (``H:MM:SS.ffffff``), or None."""
    match = _DELTA.match(str(delta or "").strip())
    if not match:
        return None
    days, hours, minutes, secs = match.groups()
    return round(int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs), 3)


def _result_for(results: Iterable[Any], uuid: str) -> Mapping[str, Any] | None:
    """Return the registered loop result whose item names ``uuid`` (and that ran), or None."""
    for result in results or []:
        if not isinstance(result, Mapping) or result.get("skipped"):
            continue
        item = result.get(result.get("ansible_loop_var") or "item")
        if isinstance(item, Mapping) and item.get("uuid") == uuid:
            return result
        # async_status loops over the async task's results, whose item is the migration
        inner = item.get(item.get("ansible_loop_var") or "item") if isinstance(item, Mapping) else None
        if isinstance(inner, Mapping) and inner.get("uuid") == uuid:
            return result
    return None


def wave_outcomes(
    steps: Mapping[str, Any], host_results: Mapping[str, Mapping[str, Any]], check_mode: bool = False
) -> dict[str, dict[str, Any]]:
    """Return ``{uuid: outcome}`` for the guests of one wave.

    ``host_results``: per host what the wave's tasks registered there: ``prepare_errors``
    ({uuid: message}), ``migrated`` (the migrate command results, one per guest), ``kernel_log``
    (text logged since the migration started) and ``kernel_format`` (``syslog`` or ``journal``),
    ``facts`` (after the migration), ``domstate`` ({guest: output}), ``cleaned`` (the results of
    removing the source mdevs of guests that left). An outcome is ``{uuid, guest, source, planned_destination,
    actual_destination, tried_destination, result, stage, codes, message, duration, prepared, rerouted,
    kernel, cleaned}``
    with result ``moved``, ``already_moved``, ``would_move`` (check mode), ``failed`` or
    ``skipped``; ``cleaned`` says what was removed of the source mdev of a guest that left
    (``vfio_ap_maintenance_source_mdev``), or what would be in check mode.
    """
    outcomes = {}
    for step in steps.get("guests") or []:
        uuid, source, dest = step["uuid"], step["source"], step["destination"]
        out: dict[str, Any] = {
            "uuid": uuid,
            "guest": step.get("guest"),
            "source": source,
            "planned_destination": step["planned"],
            "actual_destination": None,
            "result": "failed",
            "stage": "check",
            "codes": list(step.get("codes") or []),
            "message": step.get("message") or "",
            "duration": None,
            "prepared": step["action"] == "prepare",
            "tried_destination": dest,
            "rerouted": bool(step.get("rerouted")),
            "kernel": [],
            "cleaned": [],
        }
        outcomes[uuid] = out
        cleaned = _cleaned(_result_for((host_results.get(source) or {}).get("cleaned") or [], uuid), check_mode)
        if step["action"] == "moved":
            out.update(result="already_moved", stage=None, actual_destination=dest, prepared=False, cleaned=cleaned)
            continue
        if step["action"] == "skip":
            out.update(result="skipped")
            continue
        if step["action"] == "refuse":
            continue
        if check_mode:
            out.update(result="would_move", stage=None, actual_destination=dest)
            continue
        dst_res = host_results.get(dest) or {}
        src_res = host_results.get(source) or {}
        error = (dst_res.get("prepare_errors") or {}).get(uuid)
        if error is not None:
            out.update(stage="prepare", codes=["preparation_failed"], message=f"preparing {dest} failed: {error}")
            continue
        result = _result_for(src_res.get("migrated") or [], uuid)
        out["stage"] = "migrate"
        if result is None:
            out.update(codes=["migration_refused"], message="the migration did not run (no result)")
            continue
        out["duration"] = seconds(result.get("delta"))
        if str(result.get("rc")) != "0":
            log = kernel_lines(dst_res.get("kernel_log"), uuid, dst_res.get("kernel_format") or "syslog") + kernel_lines(
                src_res.get("kernel_log"), uuid, src_res.get("kernel_format") or "syslog"
            )
            if result.get("rc") is None and "timed out" in str(result.get("msg") or "").lower():
                codes, reason = ["migration_timeout"], str(result.get("msg"))
            else:
                codes, reason = refusal_codes(
                    str(result.get("stderr") or result.get("msg") or ""), log, _facts({dest: dst_res.get("facts")}, dest)
                )
            out.update(codes=codes, message=reason, kernel=log)
            continue
        guest = step["guest"]
        problems = verify_move(
            uuid,
            guest,
            (step.get("check") or {}).get("apqns") or [],
            _facts({source: src_res.get("facts")}, source),
            _facts({dest: dst_res.get("facts")}, dest),
            (dst_res.get("domstate") or {}).get(guest),
            (src_res.get("domstate") or {}).get(guest),
        )
        if problems:
            out.update(stage="verify", codes=["verification_failed"], message="; ".join(problems))
            continue
        out.update(result="moved", stage=None, actual_destination=dest, codes=[], cleaned=cleaned)
    return outcomes


def _cleaned(result: Mapping[str, Any] | None, check_mode: bool) -> list[str]:
    """Return what removing a source mdev did (``mdev`` module result, ``state: absent``), as short phrases."""
    if result is None:
        return []
    if result.get("failed"):
        return [f"{CLEANUP_FAILED}: {result.get('msg') or 'no message'}"]
    would = "would be " if check_mode else ""
    done = []
    if result.get("removed"):
        done.append(f"active mdev {would}removed")
    definition = result.get("definition")
    definition = definition if isinstance(definition, Mapping) else {}
    if definition.get("before") is not None and definition.get("after") is None:
        done.append(f"mdevctl definition {would}removed")
    return done or ["nothing left to remove"]


def undo_wanted(outcomes: Mapping[str, Mapping[str, Any]], keep: bool) -> dict[str, list[str]]:
    """Return ``{destination: [uuid]}`` of preparations to undo: guests whose destination was prepared for them and
    whose preparation or migration failed (the guest stays on the source)."""
    if keep:
        return {}
    wanted: dict[str, list[str]] = {}
    for out in outcomes.values():
        # not after a failed verification: the guest may run there, its mdev must stay
        if out["result"] == "failed" and out.get("prepared") and out["stage"] in ("migrate", "prepare"):
            wanted.setdefault(out["tried_destination"], []).append(out["uuid"])
    return wanted


# The variables the maintenance role's wave tasks register on each host (tasks/wave.yml).
REGISTERED = {
    "prepare_errors": "__vfio_ap_maintenance_prepare_errors",
    "undo": "__vfio_ap_maintenance_undo",
    "migrated": ("__vfio_ap_maintenance_migrated", "__vfio_ap_maintenance_waited"),
    "kernel_log": ("__vfio_ap_maintenance_kernel_read", "__vfio_ap_maintenance_kernel_journal"),
    "domstate": "__vfio_ap_maintenance_domstate",
    "cleaned": "__vfio_ap_maintenance_cleaned",
}
# The kernel-log register of each source of the kernel's lines, and the format of its text.
_KERNEL_FORMATS = {"__vfio_ap_maintenance_kernel_read": "syslog", "__vfio_ap_maintenance_kernel_journal": "journal"}


def _results(value: Any) -> list[Any]:
    return list(value.get("results") or []) if isinstance(value, Mapping) else []


def collect_host_results(host_vars: Mapping[str, Any], hosts: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return ``{host: {prepare_errors, undo, migrated, kernel_log, kernel_format, facts, domstate, cleaned}}`` from each host's variables.

    ``host_vars``: ``hostvars`` (or any {host: {variable: value}}); a host or variable that is
    missing gives empty values.
    """
    collected = {}
    for host in hosts:
        try:
            hv = host_vars[host]
        except KeyError:
            hv = {}
        get = hv.get if isinstance(hv, Mapping) else (lambda _name: None)
        reads = [(get(name), _KERNEL_FORMATS[name]) for name in REGISTERED["kernel_log"]]
        read, kernel_format = next(
            ((r, f) for r, f in reads if isinstance(r, Mapping) and not r.get("skipped") and "stdout" in r), (None, "syslog")
        )
        domstate = {}
        for result in _results(get(REGISTERED["domstate"])):
            if isinstance(result, Mapping) and not result.get("skipped"):
                guest = result.get(result.get("ansible_loop_var") or "item")
                domstate[str(guest)] = str(result.get("stdout") or "") + str(result.get("stderr") or "")
        facts = (get("ansible_facts") or {}).get("vfio_ap")
        collected[host] = {
            "prepare_errors": dict(get(REGISTERED["prepare_errors"]) or {}),
            "undo": dict(get(REGISTERED["undo"]) or {}),
            "migrated": [r for name in REGISTERED["migrated"] for r in _results(get(name))],
            "kernel_log": read.get("stdout") if read is not None else None,
            "kernel_format": kernel_format,
            "facts": facts,
            "domstate": domstate,
            "cleaned": _results(get(REGISTERED["cleaned"])),
        }
    return collected


def migrations_to_run(steps: Mapping[str, Any], host_results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Return ``{source: [migration]}``: the wave's migrations (``steps['migrate']``) whose destination was prepared.

    A migration is left out when any host's ``prepare_errors`` (see :func:`collect_host_results`)
    name its UUID: the destination role failed for it, and the outcome says so.
    """
    failed = {uuid for res in host_results.values() for uuid in (res.get("prepare_errors") or {})}
    migrate = steps.get("migrate") or {}
    if not isinstance(migrate, Mapping):
        raise ValueError(f"steps.migrate: expected {{source: [migration]}}, got {type(migrate).__name__}")
    return {source: [m for m in migrations if m.get("uuid") not in failed] for source, migrations in migrate.items()}


def undo_actions_wanted(undo: Mapping[str, list[str]], host_results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Return ``{destination: [action]}``: the undo actions recorded there for the UUIDs ``undo`` names.

    ``undo``: :func:`undo_wanted`'s ``{destination: [uuid]}``; the actions are what the
    destination role recorded per UUID (``undo`` of :func:`collect_host_results`), in the order of
    ``undo``, each once.
    """
    out: dict[str, list[Any]] = {}
    for destination, uuids in undo.items():
        recorded = (host_results.get(destination) or {}).get("undo") or {}
        actions: list[Any] = []
        for uuid in uuids:
            for action in recorded.get(uuid) or []:
                if action not in actions:
                    actions.append(action)
        out[destination] = actions
    return out


def wave_result(
    steps: Mapping[str, Any], host_results: Mapping[str, Mapping[str, Any]], check_mode: bool = False, keep: bool = False
) -> dict[str, Any]:
    """Return what one wave did: ``{outcomes, undo, undo_actions, moved, cleanup, failed}``.

    ``outcomes``: :func:`wave_outcomes`; ``undo``: :func:`undo_wanted` ``{destination: [uuid]}``;
    ``undo_actions``: :func:`undo_actions_wanted` ``{destination: [action]}`` (what the
    destination role's ``undo`` entry point runs there); ``moved``: ``{source: [uuid]}`` of the
    guests that left; ``cleanup``: ``{source: [{uuid, guest}]}`` of the guests that left now or
    earlier (``already_moved``), whose source mdev the
    ``vfio_ap_maintenance_source_mdev`` policy applies to; ``failed``: whether a guest failed.
    """
    outcomes = wave_outcomes(steps, host_results, bool(check_mode))
    undo = undo_wanted(outcomes, bool(keep))
    moved: dict[str, list[str]] = {}
    cleanup: dict[str, list[dict[str, str]]] = {}
    for out in outcomes.values():
        if out["result"] == "moved":
            moved.setdefault(out["source"], []).append(out["uuid"])
        if out["result"] in ("moved", "already_moved"):
            cleanup.setdefault(out["source"], []).append({"uuid": out["uuid"], "guest": str(out.get("guest") or "")})
    return {
        "outcomes": outcomes,
        "undo": undo,
        "undo_actions": undo_actions_wanted(undo, host_results),
        "moved": moved,
        "cleanup": cleanup,
        "failed": any(out["result"] == "failed" for out in outcomes.values()),
    }
