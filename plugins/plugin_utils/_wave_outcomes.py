# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""What a drain wave did: one outcome per guest, read from what the wave's host steps returned.

The wave's decisions (``_just_in_time``) said what each host does; its host steps prepared
destinations, ran ``virsh migrate`` on the sources, read the kernel log, gathered the facts again
and asked libvirt where each guest runs. :func:`wave_outcomes` turns those results (``host
results``, see :data:`HOST_RESULT_KEYS`) into an outcome per guest: moved, failed (refusals in
reason codes, by ``_refusals``), a migration that reported success verified on both hosts
(:func:`verify_move`), and what to undo or clean up afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import CLEANUP_FAILED
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._just_in_time import active_mdev, host_facts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._refusals import kernel_lines, refusal_codes

# What the wave's host steps returned on each host (the drain's action plugin reads them):
# prepare_errors {uuid: message} and undo {uuid: [action]} of the destination role, migrated (the
# migrate command results, one per guest), kernel_log (text logged since the migration started) and
# kernel_format (syslog or journal), facts (ansible_facts.vfio_ap after the migration), domstate
# {guest: virsh domstate output}, cleaned (the results of removing source mdevs).
HOST_RESULT_KEYS = ("prepare_errors", "undo", "migrated", "kernel_log", "kernel_format", "facts", "domstate", "cleaned")

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
_DELTA = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def seconds(delta: Any) -> float | None:
    """Return the seconds of a command result's ``delta`` (``H:MM:SS.ffffff``), or None."""
    match = _DELTA.match(str(delta or "").strip())
    if not match:
        return None
    days, hours, minutes, secs = match.groups()
    return round(int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs), 3)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""


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
    state = _first_line(domstate)
    if state != "running":
        problems.append(f"virsh domstate {guest} on the destination says {state or 'nothing'!r}, not 'running'")
    dst = active_mdev(destination_facts, uuid)
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
    if _first_line(source_domstate) == "running":
        problems.append(f"{guest} still runs on the source")
    src = active_mdev(source_facts, uuid)
    if src is not None and src.get("in_use"):
        problems.append(f"the source mdev {uuid} is still in use")
    return problems


def result_for(results: Iterable[Any], uuid: str) -> Mapping[str, Any] | None:
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


def _refusal(result: Mapping[str, Any], uuid: str, dest: str, src_res: Mapping[str, Any], dst_res: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``{codes, message, kernel}`` of a migrate command that failed: libvirt's words and the kernel's lines."""
    log = kernel_lines(dst_res.get("kernel_log"), uuid, dst_res.get("kernel_format") or "syslog")
    log += kernel_lines(src_res.get("kernel_log"), uuid, src_res.get("kernel_format") or "syslog")
    if result.get("rc") is None and "timed out" in str(result.get("msg") or "").lower():
        return {"codes": ["migration_timeout"], "message": str(result.get("msg")), "kernel": log}
    text = str(result.get("stderr") or result.get("msg") or "")
    codes, reason = refusal_codes(text, log, host_facts({dest: dst_res.get("facts")}, dest))
    return {"codes": codes, "message": reason, "kernel": log}


def guest_outcome(step: Mapping[str, Any], host_results: Mapping[str, Mapping[str, Any]], check_mode: bool) -> dict[str, Any]:
    """Return the outcome of one guest of a wave (see :func:`wave_outcomes`) from its step and the host results."""
    uuid, source, dest = step["uuid"], step["source"], step["destination"]
    out: dict[str, Any] = {"uuid": uuid, "guest": step.get("guest"), "source": source, "planned_destination": step["planned"],
                           "actual_destination": None, "result": "failed", "stage": "check", "codes": list(step.get("codes") or []),
                           "message": step.get("message") or "", "duration": None, "prepared": step["action"] == "prepare",
                           "tried_destination": dest, "rerouted": bool(step.get("rerouted")), "kernel": [], "cleaned": []}  # fmt: skip
    if step["action"] == "moved":
        return {**out, "result": "already_moved", "stage": None, "actual_destination": dest, "prepared": False}
    if step["action"] == "skip":
        return {**out, "result": "skipped"}
    if step["action"] == "refuse":
        return out
    if check_mode:
        return {**out, "result": "would_move", "stage": None, "actual_destination": dest}
    dst_res, src_res = host_results.get(dest) or {}, host_results.get(source) or {}
    error = (dst_res.get("prepare_errors") or {}).get(uuid)
    if error is not None:
        return {**out, "stage": "prepare", "codes": ["preparation_failed"], "message": f"preparing {dest} failed: {error}"}
    result = result_for(src_res.get("migrated") or [], uuid)
    if result is None:
        return {**out, "stage": "migrate", "codes": ["migration_refused"], "message": "the migration did not run (no result)"}
    out.update(stage="migrate", duration=seconds(result.get("delta")))
    if str(result.get("rc")) != "0":
        return {**out, **_refusal(result, uuid, dest, src_res, dst_res)}
    guest = step["guest"]
    problems = verify_move(
        uuid,
        guest,
        (step.get("check") or {}).get("apqns") or [],
        host_facts({source: src_res.get("facts")}, source),
        host_facts({dest: dst_res.get("facts")}, dest),
        (dst_res.get("domstate") or {}).get(guest),
        (src_res.get("domstate") or {}).get(guest),
    )
    if problems:
        return {**out, "stage": "verify", "codes": ["verification_failed"], "message": "; ".join(problems)}
    return {**out, "result": "moved", "stage": None, "actual_destination": dest, "codes": []}


def cleaned(result: Mapping[str, Any] | None, check_mode: bool) -> list[str]:
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


def with_cleanup(
    outcomes: Mapping[str, Mapping[str, Any]],
    cleanup: Mapping[str, Iterable[Mapping[str, Any]]],
    host_results: Mapping[str, Mapping[str, Any]],
    check_mode: bool,
) -> dict[str, dict[str, Any]]:
    """Return ``outcomes`` with ``cleaned`` filled in for the guests of ``cleanup`` ({source: [{uuid, guest}]}).

    The source mdevs of the guests that left are removed after the wave's outcomes are read; what
    that did (``cleaned`` of the sources' host results) is added here, by the drain's next step.
    """
    out = {uuid: dict(outcome) for uuid, outcome in outcomes.items()}
    for source, guests in cleanup.items():
        results = (host_results.get(source) or {}).get("cleaned") or []
        for guest in guests:
            if guest.get("uuid") in out:
                out[guest["uuid"]]["cleaned"] = cleaned(result_for(results, guest["uuid"]), check_mode)
    return out


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


def undo_actions_wanted(undo: Mapping[str, list[str]], host_results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Return ``{destination: [action]}``: the undo actions recorded there for the UUIDs ``undo`` names.

    ``undo``: :func:`undo_wanted`'s ``{destination: [uuid]}``; the actions are what the
    destination role recorded per UUID (``undo`` of the host results), in the order of ``undo``, each once.
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


def wave_outcomes(
    steps: Mapping[str, Any], host_results: Mapping[str, Mapping[str, Any]], options: DrainOptions, check_mode: bool = False
) -> dict[str, Any]:
    """Return what one wave did: ``{outcomes, undo, undo_actions, moved, cleanup, guest_failed, stopped}``.

    ``steps``: the wave's decisions (``_just_in_time.just_in_time``). ``outcomes``: ``{uuid:
    {uuid, guest, source, planned_destination, actual_destination, tried_destination, result,
    stage, codes, message, duration, prepared, rerouted, kernel, cleaned}}`` with result ``moved``,
    ``already_moved``, ``would_move`` (check mode), ``failed`` or ``skipped`` (``cleaned`` is
    filled in by :func:`with_cleanup` once the source mdevs were removed). ``undo``:
    :func:`undo_wanted` ``{destination: [uuid]}``; ``undo_actions``: :func:`undo_actions_wanted`
    ``{destination: [action]}`` (what the destination role's ``undo`` entry point runs there);
    ``moved``: ``{source: [uuid]}`` of the guests that left; ``cleanup``: ``{source: [{uuid,
    guest}]}`` of the guests that left now or earlier (``already_moved``), whose source mdev the
    ``vfio_ap_maintenance_source_mdev`` policy applies to; ``guest_failed``: whether a guest failed (not
    ``failed``, which Ansible reads as the task failing);
    ``stopped``: whether the drain stops here (a guest failed and ``options.on_failure`` is ``stop``).
    """
    outcomes = {step["uuid"]: guest_outcome(step, host_results, bool(check_mode)) for step in steps.get("guests") or []}
    undo = undo_wanted(outcomes, options.keep_prepared)
    moved: dict[str, list[str]] = {}
    cleanup: dict[str, list[dict[str, str]]] = {}
    for out in outcomes.values():
        if out["result"] == "moved":
            moved.setdefault(out["source"], []).append(out["uuid"])
        if out["result"] in ("moved", "already_moved"):
            cleanup.setdefault(out["source"], []).append({"uuid": out["uuid"], "guest": str(out.get("guest") or "")})
    failed = any(out["result"] == "failed" for out in outcomes.values())
    return {
        "outcomes": outcomes,
        "undo": undo,
        "undo_actions": undo_actions_wanted(undo, host_results),
        "moved": moved,
        "cleanup": cleanup,
        "guest_failed": failed,
        "stopped": failed and options.on_failure == "stop",
    }
