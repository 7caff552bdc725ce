# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""A rolling maintenance run, batch by batch: its state on the controller and the decisions between its steps.

The ``maintenance`` role's ``rolling`` entry point runs, for each batch of the rolling plan
(``_rolling.rolling_plan``): drain (the role's own drain, following :func:`batch_plan`), the
user's maintenance tasks, the snapshot of every host's AP configuration (``_rolling_boot``), the
reboot, the check that the configuration came back (repairing what persistence should have
restored), the restart of the guests that stayed, the return of guests (:func:`returns`) and the
migration control put back (:func:`restore_migration`). Every decision is made here; the role runs
the steps.

The run's state (:func:`new_state`, :func:`record`) is one JSON document the role keeps on the
controller and replaces after every step, so that a run that stopped (a failure, or the controller
killed) is taken up again by the same command where it stopped: a batch's steps are
:data:`PHASES`, and each done one is listed in the batch's ``done``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_document
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import require_bool, require_count, require_names, require_rules
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._readiness import migration_check
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling import ORDERS, rolling_plan

SCHEMA = 1
KIND = "s390x.vfio_ap rolling maintenance"
PHASES = ("drain", "maintain", "snapshot", "reboot", "verify", "restart", "return", "restore")
RETURNS = ("none", "original", "rebalance")
# Drain results of a guest that left its host, and of one that is still there.
LEFT = ("moved", "already_moved")
STAYED = ("stranded", "failed", "not_attempted", "needs_preparation", "pending")
MAX_STATE_BYTES = 64 * 1024 * 1024


# --------------------------------------------------------------------------- the request


def request_of(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Return the run's request from the role's inputs, checked; ValueError naming the role variable that is wrong.

    ``inputs``: ``{hosts, batch_size, avoid, order, prepare, enable_migration, rules, return, reboot,
    reboot_unpersisted, repair, restart_guests, restore_migration, tasks}`` (the role's ``vfio_ap_maintenance_*`` values).
    """
    if not isinstance(inputs, Mapping):
        raise ValueError(f"request: expected the role's inputs (a dict), got {type(inputs).__name__}")
    hosts = require_names(inputs.get("hosts"), "vfio_ap_maintenance_hosts")
    if not hosts:
        raise ValueError("vfio_ap_maintenance_hosts is empty: name the hosts to maintain")
    if len(set(hosts)) != len(hosts):
        twice = sorted(h for h, n in Counter(hosts).items() if n > 1)
        raise ValueError(f"vfio_ap_maintenance_hosts names {', '.join(twice)} more than once")
    order = inputs.get("order", "planned")
    if order not in ORDERS:
        raise ValueError(f"vfio_ap_maintenance_order: expected one of {', '.join(ORDERS)}, got {order!r}")
    back = inputs.get("return", "none")
    if back not in RETURNS:
        raise ValueError(f"vfio_ap_maintenance_return: expected one of {', '.join(RETURNS)}, got {back!r}")
    try:
        rules = require_rules(inputs.get("rules", "auto"))
    except ValueError as exc:
        raise ValueError(f"vfio_ap_maintenance_rules: {exc}") from None
    out: dict[str, Any] = {
        "hosts": hosts,
        "batch_size": require_count(inputs.get("batch_size", 1), "vfio_ap_maintenance_batch_size", 1),
        "avoid": sorted(set(require_names(inputs.get("avoid"), "vfio_ap_maintenance_avoid"))),
        "order": order,
        "rules": rules,
        "return": back,
        "tasks": str(inputs.get("tasks") or ""),
    }
    flags = {
        "prepare": True,
        "enable_migration": False,
        "reboot": True,
        "reboot_unpersisted": False,
        "repair": True,
        "restart_guests": True,
        "restore_migration": True,
    }
    for key, default in flags.items():
        out[key] = require_bool(inputs.get(key, default), f"vfio_ap_maintenance_{key}")
    return out


# --------------------------------------------------------------------------- the state


def _running(facts_by_host: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Return ``{uuid: [(host, guest)]}`` of every mdev in use by a guest, over the hosts with facts."""
    found: dict[str, list[tuple[str, str]]] = {}
    for host in sorted(facts_by_host):
        facts = facts_by_host[host]
        driver = facts.get("driver") if isinstance(facts, Mapping) else None
        for mdev in (driver or {}).get("mdevs") or []:
            if isinstance(mdev, Mapping) and mdev.get("in_use") and mdev.get("guest"):
                found.setdefault(str(mdev.get("uuid")), []).append((host, str(mdev["guest"])))
    return found


def _compact_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the run keeps of the rolling plan: the order of batches, the stranded guests, the figures."""
    return {
        "verdict": plan["verdict"],
        "feasible": plan["feasible"],
        "order": plan["order"],
        "summary": dict(plan["summary"]),
        "batches": [list(b["hosts"]) for b in plan["batches"]],
        "stranded": [
            {
                "guest": s["guest"],
                "uuid": s["uuid"],
                "home": s["home"],
                "host": s["host"],
                "batch": s["batch"],
                "codes": sorted(set(s.get("blockers") or {}) | {b.get("code") for b in s.get("source_blockers") or []} - {None}),
            }
            for s in plan["stranded"]
        ],  # fmt: skip
        "not_audited": list(plan.get("not_audited") or []),
        "warnings": list(plan.get("warnings") or []),
    }


def new_state(plan: Mapping[str, Any], request: Mapping[str, Any], facts_by_host: Mapping[str, Any], now: Any = None) -> dict[str, Any]:
    """Return the state of a run starting now: the request, the plan it follows, every guest's home, the batches to do."""
    running = _running(facts_by_host)
    homes = {}
    for uuid, where in running.items():
        host, guest = where[0]
        if host in request["hosts"]:
            homes[uuid] = {"guest": guest, "home": host}
    compact = _compact_plan(plan)
    return {
        "schema": SCHEMA,
        "kind": KIND,
        "request": dict(request),
        "started": now,
        "finished": False,
        "stopped": None,
        "plan": compact,
        "homes": homes,
        "batches": [_batch(i, hosts) for i, hosts in enumerate(compact["batches"], 1)],
    }


def _batch(index: int, hosts: list[str]) -> dict[str, Any]:
    return {
        "index": index,
        "hosts": list(hosts),
        "done": [],
        "started": None,
        "finished": None,
        "error": None,
        "migration": [],
        "drain": None,
        "snapshots": {},
        "stayed": {},
        "rebooted": [],
        "verify": {},
        "restarted": {},
        "returns": None,
        "restored": [],
    }


def parse_state(text: Any) -> dict[str, Any] | None:
    """Return the state document of a state file's text (None for no text); ValueError when it is not one."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, Mapping):
        state = dict(text)
    else:
        if len(text) > MAX_STATE_BYTES:
            raise ValueError(f"the state file holds {len(text)} bytes, more than a rolling run writes")
        try:
            state = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"the state file is not JSON ({exc}): not written by s390x.vfio_ap, or damaged") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise ValueError("the state file is not the state of an s390x.vfio_ap rolling maintenance")
    if state.get("schema") != SCHEMA:
        raise ValueError(f"the state file has schema {state.get('schema')!r}, this version reads {SCHEMA}")
    for key, kind in (("request", dict), ("batches", list), ("homes", dict), ("plan", dict)):
        if not isinstance(state.get(key), kind):
            raise ValueError(f"the state file's {key} is not a {kind.__name__}: damaged")
    for i, batch in enumerate(state["batches"], 1):
        if (
            not isinstance(batch, dict)
            or batch.get("index") != i
            or not isinstance(batch.get("hosts"), list)
            or not isinstance(batch.get("done"), list)
        ):
            raise ValueError(f"the state file's batch {i} is damaged")
    return state


def resume(text: Any, request: Mapping[str, Any], where: str = "the state file") -> dict[str, Any] | None:
    """Return the state of an unfinished run of the same hosts to take up again, None when a new run starts.

    A finished run, or no state, starts a new run. An unfinished run of other hosts is an error
    (ValueError): it must be finished, or its state file removed, first.
    """
    try:
        state = parse_state(text)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}; remove it to start a new rolling maintenance") from None
    if state is None or state.get("finished"):
        return None
    if sorted(state["request"].get("hosts") or []) != sorted(request["hosts"]):
        raise ValueError(
            f"{where} holds an unfinished rolling maintenance of {', '.join(state['request'].get('hosts') or [])}, not of "
            f"{', '.join(request['hosts'])}: run it with those hosts to take it up again, or remove the file to start a new one"
        )
    kept = {k: state["request"][k] for k in ("hosts", "batch_size", "order") if k in state["request"]}
    return {**state, "request": {**dict(request), **kept}, "stopped": None}


def current(state: Mapping[str, Any]) -> int | None:
    """Return the index of the first batch not done (None when every batch is)."""
    for batch in state["batches"]:
        if set(PHASES) - set(batch["done"]):
            return int(batch["index"])
    return None


def batch_of(state: Mapping[str, Any], index: Any) -> dict[str, Any]:
    try:
        number = int(index)
        batch = state["batches"][number - 1]
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"batch: expected the index of a batch of the run (1-{len(state['batches'])}), got {index!r}") from None
    return batch


def record(state: Mapping[str, Any], index: Any, phase: str, data: Mapping[str, Any] | None = None, now: Any = None) -> dict[str, Any]:
    """Return the state with batch ``index``'s ``phase`` done and ``data`` (keys of a batch) merged into it.

    ``phase`` may also be ``start`` (the batch starts: nothing is done yet) or ``progress`` (data
    only). Dict values merge into the batch's dicts, list values replace, ``migration`` records add up.
    """
    if phase not in PHASES + ("start", "progress"):
        raise ValueError(f"phase: expected one of {', '.join(PHASES)}, start or progress, got {phase!r}")
    batches = [dict(b) for b in state["batches"]]
    batch = batch_of({"batches": batches}, index)
    for key, value in (data or {}).items():
        if key not in batch or key in ("index", "hosts", "done"):
            raise ValueError(f"data: {key!r} is not something a batch records")
        if key == "migration":
            seen = {(r.get("host"), r.get("uuid")) for r in batch["migration"]}
            batch["migration"] = batch["migration"] + [r for r in value or [] if (r.get("host"), r.get("uuid")) not in seen]
        elif isinstance(batch[key], dict) and isinstance(value, Mapping):
            batch[key] = {**batch[key], **value}
        else:
            batch[key] = value
    if phase == "start" and batch["started"] is None:
        batch["started"] = now
    if phase in PHASES and phase not in batch["done"]:
        batch["done"] = [p for p in PHASES if p in batch["done"] or p == phase]
    if not set(PHASES) - set(batch["done"]):
        batch["finished"] = batch["finished"] or now
        batch["error"] = None
    out = {**state, "batches": batches}
    if all(not set(PHASES) - set(b["done"]) for b in batches):
        out["finished"] = now or True
        out["stopped"] = None
    return out


def stop(state: Mapping[str, Any], index: Any, phase: str, message: str, now: Any = None) -> dict[str, Any]:
    """Return the state of a run that stopped in batch ``index`` at ``phase``, with the reason."""
    batches = [dict(b) for b in state["batches"]]
    batch = batch_of({"batches": batches}, index)
    batch["error"] = {"phase": phase, "message": str(message), "at": now}
    return {**state, "batches": batches, "stopped": {"batch": batch["index"], "phase": phase, "message": str(message), "at": now}}


def state_text(state: Mapping[str, Any]) -> str:
    """Return the state file's text (JSON, sorted keys, one line per key, newline-terminated)."""
    return json.dumps(state, indent=1, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- one batch: the drain


def done_hosts(state: Mapping[str, Any]) -> list[str]:
    """Return the hosts of the batches done (maintained), in order."""
    return [h for b in state["batches"] if not set(PHASES) - set(b["done"]) for h in b["hosts"]]


def batch_plan(state: Mapping[str, Any], index: Any, facts_by_host: Mapping[str, Any], destinations: Iterable[str]) -> dict[str, Any]:
    """Return the drain of batch ``index`` planned with the facts of now: ``{approved, moves, stranded, verdict}``.

    The rest of the rolling maintenance is planned again (``rolling_plan`` with the hosts still to
    maintain in the run's order, this batch first, ``order: given``, and the hosts maintained so far as
    ``maintained``); its first batch is this one. ``approved`` is that batch as an evacuation plan
    (``evacuation.json``, schema 1): the drain's approved plan, checked by the drain against the
    facts again and every guest checked just in time.
    """
    batch = batch_of(state, index)
    request = state["request"]
    maintained = done_hosts(state)
    later = [h for b in state["batches"] if b["index"] > batch["index"] for h in b["hosts"] if h not in maintained]
    hosts = list(batch["hosts"]) + [h for h in later if h not in batch["hosts"]]
    plan = rolling_plan(
        facts_by_host,
        hosts,
        batch_size=len(batch["hosts"]),
        avoid=request.get("avoid") or [],
        destinations=list(destinations),
        rules=request.get("rules", "auto"),
        prepare=request.get("prepare", True),
        enable_migration=request.get("enable_migration", False),
        order="given",
        maintained=[h for h in maintained if h in facts_by_host],
    )
    first = plan["batches"][0]
    entries = [_entry(m["uuid"], m["guest"], m["from"], m["to"], bool(m["prepare"]), list(m.get("codes") or [])) for m in first["moves"]]
    for item in first["stranded"]:
        codes = list(item.get("blockers") or {}) + [b.get("code") for b in item.get("source_blockers") or []]
        entry = _entry(item["uuid"], item["guest"], item["host"], None, False, codes, list(item.get("apqns") or []))
        entries.append({**entry, "reason": "no destination at this step of the rolling maintenance"})
    approved = evacuation_document(list(batch["hosts"]), entries, bool(request.get("prepare", True)))
    return {
        "approved": approved,
        "moves": [{k: m.get(k) for k in ("guest", "uuid", "from", "to", "tier", "prepare", "enable_migration")} for m in first["moves"]],
        "stranded": [{"guest": s["guest"], "uuid": s["uuid"], "host": s["host"]} for s in first["stranded"]],
        "verdict": plan["verdict"],
    }


def _entry(
    uuid: str, guest: str, source: str, destination: str | None, prepare: bool, codes: list[str], apqns: list[str] | None = None
) -> dict[str, Any]:
    """Return an evacuation plan entry (``_evacuation``): a guest's move to ``destination``, or stranded without one."""
    status = "stranded" if destination is None else "prepare" if prepare else "ready"
    return {"uuid": uuid, "guest": guest, "source": source, "apqns": list(apqns or []), "status": status, "destination": destination,
            "prepare": prepare, "reason": None, "blockers": codes, "command": None}  # fmt: skip


def migration_disabled(facts_by_host: Mapping[str, Any], hosts: Iterable[str]) -> list[dict[str, Any]]:
    """Return the running guests of ``hosts`` whose migration is disabled now (what a drain that enables migration changes):
    ``[{host, uuid, guest, reason}]`` (``reason``: the guard entry's, else None)."""
    out = []
    for host in hosts:
        facts = facts_by_host.get(host)
        driver = facts.get("driver") if isinstance(facts, Mapping) else None
        guard = (driver or {}).get("migration_guard") or {}
        for mdev in (driver or {}).get("mdevs") or []:
            if isinstance(mdev, Mapping) and mdev.get("in_use") and mdev.get("migratable") is False:
                entry = guard.get(mdev["uuid"]) if isinstance(guard, Mapping) else None
                reason = entry.get("reason") if isinstance(entry, Mapping) else None
                out.append({"host": host, "uuid": mdev["uuid"], "guest": mdev.get("guest"), "reason": reason})
    return out


def drain_outcome(document: Any, hosts: Iterable[str]) -> dict[str, Any]:
    """Return what a drain did, from its ``evacuation.json`` (text or document): ``{finished, mode, results, left, stayed, failed, hosts}``.

    ``left``: ``{uuid: {guest, from, to}}`` of guests that left; ``stayed``: ``{uuid: {guest, host, result, codes}}`` of
    guests still on a host that went down; ``failed``: guests whose result is ``failed``; ``hosts``: ``{host: empty}``.
    A report that cannot be read is ``finished: false`` with nothing in it.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document) if document.strip() else None
        except (ValueError, RecursionError):
            document = None
    if not isinstance(document, Mapping) or not isinstance(document.get("guests"), list):
        return {"finished": False, "mode": None, "results": {}, "left": {}, "stayed": {}, "failed": [], "hosts": {}}
    names = set(hosts)
    left: dict[str, dict[str, Any]] = {}
    stayed: dict[str, dict[str, Any]] = {}
    for g in document["guests"]:
        if not isinstance(g, Mapping) or g.get("source") not in names:
            continue
        result = g.get("result")
        if result in LEFT:
            left[str(g.get("uuid"))] = {"guest": g.get("guest"), "from": g.get("source"), "to": g.get("actual_destination")}
        elif result in STAYED:
            stayed[str(g.get("uuid"))] = {
                "guest": g.get("guest"),
                "host": g.get("source"),
                "result": result,
                "codes": list(g.get("codes") or []),
            }
    found = document.get("host_status")
    status: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return {
        "finished": bool(document.get("finished")),
        "mode": document.get("mode"),
        "results": dict(Counter(str(g.get("result")) for g in document["guests"] if isinstance(g, Mapping))),
        "left": left,
        "stayed": stayed,
        "failed": sorted(str(s["guest"] or u) for u, s in stayed.items() if s["result"] == "failed"),
        "hosts": {h: bool(status[h].get("empty")) for h in sorted(names) if isinstance(status.get(h), Mapping)},
    }


# --------------------------------------------------------------------------- after the reboot


def restarts(state: Mapping[str, Any], index: Any, facts_by_host: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``{start: {host: [guest]}, elsewhere: {guest: host}}``: the guests that ran on the batch's hosts before
    the reboot (``stayed``) and run nowhere now, to start again there; those running on another host are left alone."""
    batch = batch_of(state, index)
    running = {guest for where in _running(facts_by_host).values() for _h, guest in where}
    where_now = {guest: host for w in _running(facts_by_host).values() for host, guest in w}
    start: dict[str, list[str]] = {}
    elsewhere: dict[str, str] = {}
    for host, guests in sorted((batch.get("stayed") or {}).items()):
        for guest in guests:
            if guest in running:
                if where_now.get(guest) != host:
                    elsewhere[guest] = where_now[guest]
                continue
            start.setdefault(host, []).append(guest)
    return {"start": start, "elsewhere": elsewhere}


def _usable(check: Mapping[str, Any], prepare: bool) -> bool:
    return bool(check.get("ready") or (prepare and check.get("ready_after")))


def returns(state: Mapping[str, Any], index: Any, facts_by_host: Mapping[str, Any]) -> dict[str, Any]:
    """Return the guests that come to the batch's hosts now that they are back: ``{approved, moves, staying}``.

    ``original``: every guest whose home is a host of the batch and that runs on another host goes
    home. ``rebalance``: guests the run moved (away from their home) come to the batch's hosts while
    that evens the number of vfio-ap guests, those on hosts due later first (they would move again
    anyway). ``none``: nobody. Each move is one ``migration_check`` (ready, or ready after
    preparation when ``prepare``); ``staying`` lists the guests that cannot come, with the codes.
    ``approved`` is the moves as an evacuation plan of the hosts they leave (None without moves).
    """
    batch = batch_of(state, index)
    request = state["request"]
    mode = request.get("return", "none")
    prepare = bool(request.get("prepare", True))
    rules = request.get("rules", "auto")
    targets = [h for h in batch["hosts"] if h in facts_by_host]
    running = _running(facts_by_host)
    homes = state["homes"]
    moves: list[dict[str, Any]] = []
    staying: list[dict[str, Any]] = []
    if mode == "none" or not targets:
        return {"approved": None, "moves": [], "staying": []}
    candidates = []
    for uuid, info in sorted(homes.items()):
        where = running.get(uuid) or []
        if len(where) != 1:
            if len(where) > 1:
                staying.append({"guest": info["guest"], "uuid": uuid, "at": ", ".join(h for h, _g in where), "codes": ["migration_refused"],
                                "why": "its mdev is in use on more than one host"})  # fmt: skip
            continue
        host, guest = where[0]
        if host == info["home"] or host in batch["hosts"]:
            continue
        if mode == "original" and info["home"] not in batch["hosts"]:
            continue
        candidates.append((uuid, guest, host, info["home"]))
    if mode == "original":
        for uuid, guest, host, home in candidates:
            check = migration_check(facts_by_host[host], facts_by_host[home], uuid, rules=rules, source=host, destination=home)
            if _usable(check, prepare):
                moves.append(_return_move(uuid, guest, host, home, check))
            else:
                staying.append({"guest": guest, "uuid": uuid, "at": host, "codes": sorted({b["code"] for b in check["blockers"]}),
                                "why": f"{home} is not ready for it"})  # fmt: skip
    else:
        moves, staying = _rebalance(state, batch, candidates, facts_by_host, running, rules, prepare)
    approved = None
    if moves:
        entries = [_entry(m["uuid"], m["guest"], m["from"], m["to"], m["prepare"], list(m["codes"])) for m in moves]
        approved = evacuation_document(sorted({m["from"] for m in moves}), entries, prepare)
    return {"approved": approved, "moves": moves, "staying": staying}


def _return_move(uuid: str, guest: str, host: str, to: str, check: Mapping[str, Any]) -> dict[str, Any]:
    return {"uuid": uuid, "guest": guest, "from": host, "to": to, "prepare": not check.get("ready"),
            "codes": sorted({b["code"] for b in check.get("blockers") or []}), "apqns": list(check.get("apqns") or [])}  # fmt: skip


def _rebalance(
    state: Mapping[str, Any],
    batch: Mapping[str, Any],
    candidates: list[tuple[str, str, str, str]],
    facts_by_host: Mapping[str, Any],
    running: Mapping[str, list[tuple[str, str]]],
    rules: str,
    prepare: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (moves, staying) bringing guests the run moved to the batch's hosts while that evens the load."""
    load: Counter[str] = Counter(dict.fromkeys(facts_by_host, 0))
    for where in running.values():
        for host, _guest in where:
            load[host] += 1
    done = set(done_hosts(state)) | set(batch["hosts"])
    later = {h for b in state["batches"] if b["index"] > batch["index"] for h in b["hosts"]} - done
    order = sorted(candidates, key=lambda c: (c[2] not in later, -load[c[2]], c[2], c[0]))
    taken: dict[str, set[str]] = {h: set() for h in batch["hosts"]}
    moves: list[dict[str, Any]] = []
    staying: list[dict[str, Any]] = []
    for uuid, guest, host, _home in order:
        best = None
        codes: set[str] = set()
        for target in sorted(batch["hosts"], key=lambda t: (load[t], t)):
            if target not in facts_by_host or not (host in later or load[host] > load[target] + 1):
                continue
            check = migration_check(facts_by_host[host], facts_by_host[target], uuid, rules=rules, source=host, destination=target)
            apqns = set(check.get("apqns") or [])
            if _usable(check, prepare) and not apqns & taken[target]:
                best = (target, check, apqns)
                break
            codes |= {b["code"] for b in check["blockers"]} or ({"apqn_in_use"} if apqns & taken[target] else set())
        if best is None:
            if codes:
                staying.append(
                    {"guest": guest, "uuid": uuid, "at": host, "codes": sorted(codes), "why": "no host of the batch is ready for it"}
                )
            continue
        target, check, apqns = best
        taken[target] |= apqns
        load[host] -= 1
        load[target] += 1
        moves.append(_return_move(uuid, guest, host, target, check))
    return moves, staying


def restore_migration(state: Mapping[str, Any], index: Any, facts_by_host: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Return ``{host: [{uuid, guest, reason}]}``: where to disable migration again for the guests a drain of batch
    ``index`` enabled it for - the host where it was enabled, and the host where the guest runs now."""
    batch = batch_of(state, index)
    running = _running(facts_by_host)
    out: dict[str, list[dict[str, Any]]] = {}
    for item in batch.get("migration") or []:
        uuid = str(item.get("uuid"))
        hosts = [item.get("host")] + [h for h, _g in running.get(uuid, [])]
        for host in dict.fromkeys(h for h in hosts if h in facts_by_host):
            out.setdefault(host, []).append({"uuid": uuid, "guest": item.get("guest"), "reason": item.get("reason")})
    return out


# --------------------------------------------------------------------------- the run as a whole


def run_summary(state: Mapping[str, Any]) -> dict[str, Any]:
    """Return the run's figures and verdict (for set_stats and the reports)."""
    batches = state["batches"]
    maintained = done_hosts(state)
    rebooted = sorted({h for b in batches for h in b.get("rebooted") or []})
    verified = sorted(h for b in batches for h, v in (b.get("verify") or {}).items() if isinstance(v, Mapping) and v.get("verified"))
    repaired = sorted(h for b in batches for h, v in (b.get("verify") or {}).items() if isinstance(v, Mapping) and v.get("repaired"))
    moved = sum(len((b.get("drain") or {}).get("left") or {}) for b in batches)
    returned = sum(len((b.get("returns") or {}).get("left") or {}) for b in batches)
    could_not = sorted({s["guest"] or u for b in batches for u, s in (((b.get("drain") or {}).get("stayed") or {}).items())})
    drained = {h for b in batches if "drain" in b["done"] for h in b["hosts"]}
    planned = sorted({s["guest"] for s in state["plan"]["stranded"] if s["host"] in drained})
    restarted = sorted({g for b in batches for gs in (b.get("restarted") or {}).values() for g in gs})
    finished = bool(state.get("finished"))
    stopped = state.get("stopped")
    hosts = state["request"]["hosts"]
    if finished:
        verdict = f"every host of {len(hosts)} maintained" + (", rebooted and verified" if state["request"].get("reboot", True) else "")
        verdict += f": {moved} migrations to drain, {returned} back" if moved or returned else ": no guest had to move"
    elif stopped:
        verdict = f"stopped in batch {stopped['batch']} ({stopped['phase']}): {stopped['message']}"
    else:
        verdict = f"{len(maintained)} of {len(hosts)} hosts maintained so far"
    return {
        "finished": finished,
        "verdict": verdict,
        "hosts": len(hosts),
        "maintained": maintained,
        "batches": len(batches),
        "batches_done": sum(1 for b in batches if not set(PHASES) - set(b["done"])),
        "rebooted": rebooted,
        "verified": verified,
        "repaired": repaired,
        "migrations": moved,
        "returned": returned,
        "stranded_planned": planned,
        "stranded_planned_all": sorted({s["guest"] for s in state["plan"]["stranded"]}),
        "stranded": could_not,
        "stranded_as_planned": planned == could_not,
        "restarted": restarted,
        "stopped": stopped,
    }
