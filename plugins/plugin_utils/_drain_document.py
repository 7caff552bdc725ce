# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The drain document (``evacuation.json``): the evacuation plan with what happened to each guest.

One document describes a plan-only run, a check-mode run and an execution alike: the evacuation
plan (destinations chosen up front) plus, per guest, what happened (``result``) and, per host
going into maintenance, whether it is empty of vfio-ap guests afterwards. ``_drain_report``
renders it (Markdown, HTML, JUnit, the console lines).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import host_gaps

REPORT_SCHEMA = 1
MODES = ("plan", "check", "execute")
# Results a guest can have, in report order; "ok" ones count as leaving (or having left) the host.
RESULTS = (
    "moved", "already_moved", "would_move", "planned", "failed", "not_attempted", "pending", "skipped", "needs_preparation", "stranded",
)  # fmt: skip
# How an outcome's ``cleaned`` starts when the source mdev of a guest that left could not be removed.
CLEANUP_FAILED = "removing the source mdev failed"
OK_RESULTS = {"moved", "already_moved", "would_move", "planned"}
FAILED_RESULTS = {"failed", "stranded", "needs_preparation"}
# Results a held (not run) guest is counted under in the outcome sentence.
_SHORTFALL = ("failed", "not_attempted", "stranded", "needs_preparation", "skipped")


@dataclass(frozen=True)
class Progress:
    """How far a drain got: what the document reports beside the evacuation plan.

    ``mode``: ``plan``, ``check`` or ``execute``; ``outcomes``: ``{uuid: outcome}`` of the guests
    the waves ran (``_wave_outcomes``), also of guests the evacuation does not list (an earlier
    run's, found on their destination); ``held``: ``{uuid: result}`` of the guests not run
    (``_waves.order_waves``); ``started``: the document written when a drain starts (replaced when
    it ends); ``resumed``: an earlier run's guests the drain looks for again; ``stopped``: the drain
    stopped at a failure.
    """

    mode: str
    outcomes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    held: Mapping[str, str] = field(default_factory=dict)
    started: bool = False
    resumed: tuple[Mapping[str, Any], ...] = ()
    stopped: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {self.mode!r}")


def host_status(facts_by_host: Mapping[str, Any], hosts: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return ``{host: {empty, running}}``: the guests still using a vfio-ap mdev on each host (empty is None without
    facts, or when the facts could not see everything: ``_audit_gaps``)."""
    status: dict[str, dict[str, Any]] = {}
    for host in hosts:
        facts = facts_by_host.get(host)
        if not isinstance(facts, Mapping) or not isinstance(facts.get("driver"), Mapping):
            status[host] = {"empty": None, "running": []}
            continue
        running = sorted(m.get("guest") or f"mdev {m.get('uuid')}" for m in facts["driver"].get("mdevs") or [] if m.get("in_use"))
        # a guest seen is "not empty"; none seen is "empty" only when the facts could see everything
        status[host] = {"empty": False if running else None if host_gaps(facts) else True, "running": running}
    return status


def _row(entry: Mapping[str, Any], out: Mapping[str, Any]) -> dict[str, Any]:
    """Return a report row: the evacuation entry with what happened to the guest."""
    return {
        **entry,
        "planned_destination": entry.get("destination"),
        "actual_destination": out.get("actual_destination"),
        "result": out["result"],
        "stage": out.get("stage"),
        "codes": list(out.get("codes") or []),
        "message": out.get("message") or "",
        "duration": out.get("duration"),
        "prepared": bool(out.get("prepared")),
        "rerouted": bool(out.get("rerouted")),
        "kernel": list(out.get("kernel") or []),
        "cleaned": list(out.get("cleaned") or []),
    }


def _not_run(entry: Mapping[str, Any], evacuation: Mapping[str, Any], progress: Progress, top: Mapping[str, list[str]]) -> dict[str, Any]:
    """Return the outcome of an evacuation entry the waves did not run: held, planned, pending or not attempted."""
    result = progress.held.get(entry["uuid"])
    if result is None:
        if entry.get("status") == "skipped":
            result = "skipped"
        elif entry.get("destination") is None:
            result = "stranded"
        elif entry.get("status") == "prepare" and not evacuation.get("prepare"):
            result = "needs_preparation"
        elif progress.started:
            result = "pending"
        else:
            result = "planned" if progress.mode == "plan" else "not_attempted"
    codes = (top.get(entry["uuid"]) or list(dict.fromkeys(entry.get("blockers") or []))) if result == "stranded" else []
    message = entry.get("reason") or (
        "needs a destination prepared first (vfio_ap_maintenance_prepare)" if result == "needs_preparation" else ""
    )
    if result == "not_attempted":
        codes, message = ["not_attempted"], "not attempted: the run stopped at an earlier failure"
    elif result == "pending":
        message = "the drain started; until it ends the guest's state is not known here"
    elif result == "skipped":
        codes = ["mdev_gone"]
    return {"result": result, "prepared": entry.get("prepare", False) and result == "planned", "codes": codes, "message": message}


def _unlisted(evacuation: Mapping[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """Return the rows of guests the evacuation does not list: an earlier run's, pending again or found moved."""
    listed = {e["uuid"] for e in evacuation["guests"]}
    rows = []
    if progress.started:
        for entry in progress.resumed:
            if isinstance(entry, Mapping) and entry.get("uuid") not in listed and entry.get("uuid") not in progress.outcomes:
                row: dict[str, Any] = {k: entry.get(k) for k in ("uuid", "guest", "source", "destination")}
                row.update(status="resumed", apqns=[], prepare=False, reason=None, blockers=[], command=None)
                rows.append(_row(row, {"result": "pending", "message": "an earlier run planned it; the drain looks for it again"}))
    for uuid, out in progress.outcomes.items():
        if uuid not in listed:
            entry = {"uuid": uuid, "guest": out.get("guest"), "source": out.get("source"), "apqns": [], "status": "resumed",
                     "destination": out.get("planned_destination"), "prepare": False, "reason": None, "blockers": [],
                     "command": None}  # fmt: skip
            rows.append(_row(entry, out))
    return rows


def _outcome(evacuation: Mapping[str, Any], progress: Progress, counts: Counter[str], total: int, status: Mapping[str, Any]) -> str:
    """Return the document's one sentence: the plan's verdict, or how many guests left and whether the hosts are empty."""
    names = ", ".join(evacuation.get("hosts") or [])
    if progress.mode == "plan":
        return evacuation.get("verdict") or ""
    if progress.started:
        return f"the drain of {names} started and has not ended: if this is still the report, it was interrupted; run it again to finish it"
    done = counts["moved"] + counts["already_moved"] + counts["would_move"]
    outcome = f"{done} of {total} vfio-ap guests of {names} {'would leave' if progress.mode == 'check' else 'left'}"
    bad = [f"{counts[r]} {r.replace('_', ' ')}" for r in _SHORTFALL if counts[r]]
    if bad:
        outcome += " (" + ", ".join(bad) + ")"
    if progress.mode == "execute":
        empty = all(s["empty"] is True for s in status.values()) if status else False
        outcome += "; " + ("every host is empty" if empty else "not empty: " + ", ".join(h for h, s in status.items() if not s["empty"]))
    return outcome


def drain_document(
    evacuation: Mapping[str, Any], progress: Progress, facts_after: Mapping[str, Any], plan: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the evacuation.json document.

    ``plan``: the migration plan, whose ``summary.stranded[].top_blockers`` (the blockers that
    matter, over the nearest destinations) become a stranded guest's ``codes`` (else every blocker
    code of the plan entry). ``facts_after``: ``{host: ansible_facts.vfio_ap}`` at the end, for
    ``host_status``. A guest without an outcome is held, planned, ``pending`` (the document written
    when a drain starts) or ``not_attempted``.

    The evacuation plan's keys (``schema, hosts, prepare, evacuable, verdict, summary, guests,
    destinations``) stay as they are; each guest gets ``planned_destination, actual_destination,
    result, stage, codes, message, duration, prepared, rerouted, kernel, cleaned``; the document gets
    ``report_schema, mode, finished, stopped, results`` (counts per result), ``host_status`` ({host: {empty,
    running}}), ``all_empty`` and ``outcome`` (one sentence).
    """
    if not isinstance(evacuation, Mapping) or not isinstance(evacuation.get("guests"), list):
        raise ValueError("evacuation: expected an evacuation_plan result (with 'guests')")
    top = {s.get("uuid"): list(s.get("top_blockers") or []) for s in ((plan or {}).get("summary") or {}).get("stranded") or []}
    guests = []
    for entry in evacuation["guests"]:
        out = progress.outcomes.get(entry["uuid"]) or _not_run(entry, evacuation, progress, top)
        guests.append(_row(entry, out))
    guests += _unlisted(evacuation, progress)
    counts = Counter(g["result"] for g in guests)
    status = host_status(facts_after, evacuation.get("hosts") or [])
    all_empty = all(s["empty"] is True for s in status.values()) if status else False
    return {
        **evacuation,
        "report_schema": REPORT_SCHEMA,
        "mode": progress.mode,
        "finished": not progress.started,
        "stopped": bool(progress.stopped),
        "guests": guests,
        "results": {r: counts[r] for r in RESULTS if counts[r]},
        "host_status": status,
        "all_empty": all_empty and not progress.started,
        "outcome": _outcome(evacuation, progress, counts, len(guests), status),
    }


def drain_summary(document: Mapping[str, Any], report_dir: str | None = None) -> dict[str, Any]:
    """Return the set_stats data (``vfio_ap_maintenance_summary``) of a drain document."""
    guests = document["guests"]
    return {
        "hosts": list(document.get("hosts") or []),
        "mode": document["mode"],
        "evacuable": document.get("evacuable"),
        "verdict": document.get("verdict"),
        "outcome": document["outcome"],
        "counts": document.get("summary"),
        "results": document["results"],
        "empty": {h: s["empty"] for h, s in document["host_status"].items()},
        "all_empty": document["all_empty"],
        "not_empty": [h for h, s in document["host_status"].items() if s["empty"] is not True],
        "moved": [g["guest"] for g in guests if g["result"] == "moved"],
        "failed": [{"guest": g["guest"], "codes": g["codes"], "message": g["message"]} for g in guests if g["result"] == "failed"],
        "stranded": [g["uuid"] for g in guests if g["result"] == "stranded"],
        "commands": [g["command"] for g in guests if g.get("command")],
        "stopped": document["stopped"],
        "report_dir": report_dir,
    }
