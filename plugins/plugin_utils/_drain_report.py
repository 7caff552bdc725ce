# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The drain report of the ``maintenance`` role: evacuation.json, .md, .html and .xml (JUnit).

One document describes a plan-only run, a check-mode run and an execution alike: the evacuation
plan (destinations chosen up front) plus, per guest, what happened (``result``) and, per host
going into maintenance, whether it is empty of vfio-ap guests afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import host_gaps
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._render import (
    Case,
    Cell,
    Raw,
    Row,
    Suite,
    html_page,
    html_table,
    html_text,
    json_text,
    junit,
    md_code_block,
    md_paragraph,
    md_table,
    md_text,
    plain,
)

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


def drain_document(
    evacuation: Mapping[str, Any],
    outcomes: Mapping[str, Mapping[str, Any]] | None,
    held: Mapping[str, str] | None,
    mode: str,
    facts_after: Mapping[str, Any],
    stopped: bool = False,
    plan: Mapping[str, Any] | None = None,
    started: bool = False,
    resumed: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the evacuation.json document.

    ``plan``: the migration plan, whose ``summary.stranded[].top_blockers`` (the blockers that
    matter, over the nearest destinations) become a stranded guest's ``codes`` (else every blocker
    code of the plan entry). ``outcomes`` may hold guests the evacuation does not list (an earlier
    run's guests the drain found on their destination, ``already_moved``): they get a row too.
    ``started``: the report written when a drain starts (replaced when it ends): the guests without
    an outcome are ``pending``, and so are ``resumed`` (an earlier run's guests the drain looks
    for again, ``maintenance_waves``' ``resumed``), so that a run interrupted again keeps them.

    The evacuation plan's keys (``schema, hosts, prepare, evacuable, verdict, summary, guests,
    destinations``) stay as they are; each guest gets ``planned_destination, actual_destination,
    result, stage, codes, message, duration, prepared, rerouted, kernel, cleaned``; the document gets
    ``report_schema, mode, finished, stopped, results`` (counts per result), ``host_status`` ({host: {empty,
    running}}, from ``facts_after``), ``all_empty`` and ``outcome`` (one sentence).
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if not isinstance(evacuation, Mapping) or not isinstance(evacuation.get("guests"), list):
        raise ValueError("drain_document: expected an evacuation_plan result (with 'guests')")
    outcomes = outcomes or {}
    held = held or {}
    top = {s.get("uuid"): list(s.get("top_blockers") or []) for s in ((plan or {}).get("summary") or {}).get("stranded") or []}
    guests = []
    for entry in evacuation["guests"]:
        out = outcomes.get(entry["uuid"])
        if out is None:
            result = held.get(entry["uuid"])
            if result is None:
                if entry.get("status") == "skipped":
                    result = "skipped"
                elif entry.get("destination") is None:
                    result = "stranded"
                elif entry.get("status") == "prepare" and not evacuation.get("prepare"):
                    result = "needs_preparation"
                elif started:
                    result = "pending"
                else:
                    result = "planned" if mode == "plan" else "not_attempted"
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
            out = {"result": result, "prepared": entry.get("prepare", False) and result == "planned", "codes": codes, "message": message}
        guests.append(_row(entry, out))
    listed = {e["uuid"] for e in evacuation["guests"]}
    if started:
        for entry in resumed or []:
            if isinstance(entry, Mapping) and entry.get("uuid") not in listed and entry.get("uuid") not in outcomes:
                message = "an earlier run planned it; the drain looks for it again"
                row: dict[str, Any] = {k: entry.get(k) for k in ("uuid", "guest", "source", "destination")}
                row.update(status="resumed", apqns=[], prepare=False, reason=None, blockers=[], command=None)
                guests.append(_row(row, {"result": "pending", "message": message}))
    for uuid, out in outcomes.items():
        if uuid not in listed:
            entry = {"uuid": uuid, "guest": out.get("guest"), "source": out.get("source"), "apqns": [], "status": "resumed",
                     "destination": out.get("planned_destination"), "prepare": False, "reason": None, "blockers": [],
                     "command": None}  # fmt: skip
            guests.append(_row(entry, out))
    counts = Counter(g["result"] for g in guests)
    status = host_status(facts_after, evacuation.get("hosts") or [])
    all_empty = all(s["empty"] is True for s in status.values()) if status else False
    names = ", ".join(evacuation.get("hosts") or [])
    if mode == "plan":
        outcome = evacuation.get("verdict") or ""
    elif started:
        outcome = (
            f"the drain of {names} started and has not ended: if this is still the report, it was interrupted; run it again to finish it"
        )
    else:
        done = counts["moved"] + counts["already_moved"] + counts["would_move"]
        verb = "would leave" if mode == "check" else "left"
        outcome = f"{done} of {len(guests)} vfio-ap guests of {names} {verb}"
        bad = [
            f"{counts[r]} {r.replace('_', ' ')}"
            for r in ("failed", "not_attempted", "stranded", "needs_preparation", "skipped")
            if counts[r]
        ]
        if bad:
            outcome += " (" + ", ".join(bad) + ")"
        if mode == "execute":
            outcome += "; " + (
                "every host is empty" if all_empty else "not empty: " + ", ".join(h for h, s in status.items() if not s["empty"])
            )
    return {
        **evacuation,
        "report_schema": REPORT_SCHEMA,
        "mode": mode,
        "finished": not started,
        "stopped": bool(stopped),
        "guests": guests,
        "results": {r: counts[r] for r in RESULTS if counts[r]},
        "host_status": status,
        "all_empty": all_empty and not started,
        "outcome": outcome,
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


def _label(guest: Mapping[str, Any]) -> str:
    return str(guest.get("guest") or f"mdev {guest['uuid']}")


def _why(guest: Mapping[str, Any]) -> str:
    codes = ", ".join(str(c) for c in guest["codes"])
    message = str(guest.get("message") or "")
    text = f"{codes} — {message}" if codes and message else codes or message
    if guest.get("cleaned"):
        text += ("; " if text else "") + "source mdev: " + ", ".join(str(c) for c in guest["cleaned"])
    return text


def _duration(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f} s"


def _result(guest: Mapping[str, Any]) -> str:
    return str(guest["result"]) + (" (prepared)" if guest["prepared"] and guest["result"] != "planned" else "")


def _empty(status: Mapping[str, Any]) -> str:
    return "unknown" if status["empty"] is None else "yes" if status["empty"] else "no"


def planned_commands(document: Mapping[str, Any]) -> list[str]:
    """Return the ``virsh migrate`` command of every guest of a plan-mode drain document that has one, in order.

    Guests that need preparation first have theirs too (the run block says "after any preparation").
    """
    if document.get("mode") != "plan":
        return []
    return [g["command"] for g in document.get("guests") or [] if isinstance(g, Mapping) and isinstance(g.get("command"), str)]


def drain_messages(document: Mapping[str, Any], report_dir: str | None = None) -> dict[str, Any]:
    """Return what the maintenance role says at the end: ``{lines, failed, not_empty}``.

    ``lines``: the outcome sentence, then, for a plan, the ``virsh migrate`` command of every guest
    that has one, else one line per guest (``web1: moved to kvm-b1``, ``db1: failed (codes)``).
    ``failed``: the outcome followed by every failed guest with its codes and message (and every
    guest that left but whose source mdev could not be removed) and where the report is (``""``
    when there is none). ``not_empty``: why the drain failed to empty its hosts
    (``""`` when every host is empty). Every line is plain text (no terminal escapes).
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("guests"), list):
        raise ValueError("expected a drain document (drain_report's document, with 'guests')")
    guests = [g for g in document["guests"] if isinstance(g, Mapping)]
    lines = [str(document.get("outcome") or "")]
    if document.get("mode") == "plan":
        lines += planned_commands(document)
    else:
        for g in guests:
            line = f"{_label(g)}: {str(g.get('result')).replace('_', ' ')}"
            if g.get("actual_destination"):
                line += (" to " if g.get("result") in OK_RESULTS else ", now on ") + str(g["actual_destination"])
            if g.get("codes"):
                line += f" ({', '.join(map(str, g['codes']))})"
            if g.get("cleaned"):
                line += f"; source mdev: {', '.join(map(str, g['cleaned']))}"
            lines.append(line)
    where = f"{report_dir}/evacuation.md" if report_dir else "evacuation.md"
    failed = [g for g in guests if g.get("result") == "failed"]
    debris = [g for g in guests if any(str(c).startswith(CLEANUP_FAILED) for c in g.get("cleaned") or [])]
    text = ""
    if failed or debris:
        text = (
            f"{document.get('outcome') or ''}: "
            + "; ".join(
                [f"{_label(g)} ({', '.join(map(str, g.get('codes') or []))}: {g.get('message') or ''})" for g in failed]
                + [f"{_label(g)} left, but {'; '.join(map(str, g['cleaned']))}" for g in debris]
            )
            + f" (see {where})"
        )
    status = document.get("host_status")
    left = {
        h: s for h, s in (status if isinstance(status, Mapping) else {}).items() if isinstance(s, Mapping) and s.get("empty") is not True
    }
    not_empty = ""
    if left:
        parts = [
            f"{h}: " + (", ".join(map(str, s.get("running") or [])) if s.get("empty") is False else "no facts") for h, s in left.items()
        ]
        not_empty = (
            f"not empty after the drain - {'; '.join(parts)} (see {where}; "
            "vfio_ap_maintenance_fail_when_not_empty: false lets the run end without failing)"
        )
    return {"lines": [plain(line) for line in lines], "failed": plain(text), "not_empty": plain(not_empty)}


def render_markdown(document: Mapping[str, Any]) -> str:
    """Return evacuation.md: outcome, hosts, one row per guest, and the commands of a plan."""
    lines = [f"# Evacuation of {md_text(', '.join(document['hosts']))} ({md_text(document['mode'])})", ""]
    lines += [md_paragraph(document["outcome"] + "."), ""]
    lines += md_table(
        ["host", "empty", "vfio-ap guests still running"],
        [[host, _empty(status), ", ".join(status["running"]) or "—"] for host, status in document["host_status"].items()],
    )
    lines.append("")
    lines += md_table(
        ["guest", "source", "planned", "actual", "result", "duration", "reason"],
        [
            [
                _label(g),
                g["source"],
                g["planned_destination"] or "—",
                g["actual_destination"] or "—",
                _result(g),
                _duration(g["duration"]),
                _why(g),
            ]
            for g in document["guests"]
        ],
    )
    kernel = [f"{_label(g)}: {line}" for g in document["guests"] for line in g["kernel"]]
    if kernel:
        lines += ["", "Kernel messages of the refused migrations:", "", *md_code_block(kernel)]
    commands = planned_commands(document)
    if commands:
        lines += ["", "Run, after any preparation, one at a time:", "", *md_code_block(commands, "sh")]
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}"
    ".moved,.already_moved,.would_move,.planned{background:#dfd}.failed,.stranded,.needs_preparation{background:#fdd}"
    ".not_attempted,.skipped,.pending{background:#eee}"
)


def render_html(document: Mapping[str, Any]) -> str:
    """Return evacuation.html: one self-contained page (inline CSS, no scripts)."""
    title = f"Evacuation of {', '.join(document['hosts'])}"
    body = [f"<h1>{html_text(title)} ({html_text(document['mode'])})</h1>", f"<p>{html_text(document['outcome'])}.</p>"]
    body += html_table(
        ["host", "empty", "vfio-ap guests still running"],
        [[host, _empty(status), ", ".join(status["running"]) or "—"] for host, status in document["host_status"].items()],
    )
    rows = []
    for g in document["guests"]:
        reason = Raw(html_text(_why(g)) + "".join(f"<br><code>{html_text(line)}</code>" for line in g["kernel"]))
        cells = [_label(g), g["source"] or "", g["planned_destination"] or "—", g["actual_destination"] or "—", _result(g)]
        rows.append(Row([*cells, _duration(g["duration"]), Cell(reason)], {"class": g["result"]}))
    body += html_table(["guest", "source", "planned", "actual", "result", "duration", "reason"], rows)
    return html_page(title, body, _CSS)


def render_junit(document: Mapping[str, Any]) -> str:
    """Return evacuation.xml (JUnit): a suite per host going into maintenance, a case per guest.

    A case fails when the guest did not (or would not) leave: failed, stranded, needs_preparation;
    it is skipped when it was not attempted, is pending or no longer ran on the host.
    """
    suites = []
    for host in document["hosts"]:
        cases = []
        for g in document["guests"]:
            if g["source"] != host:
                continue
            failure = skipped = output = None
            if g["result"] in FAILED_RESULTS:
                failure = (str(g["result"]), _why(g), "\n".join(g["kernel"]))
            elif g["result"] in ("not_attempted", "skipped", "pending"):
                skipped = _why(g)
            else:
                output = f"{g['result']} to {g['actual_destination'] or g['planned_destination'] or ''}"
                if g.get("cleaned"):
                    output += f"; source mdev: {', '.join(g['cleaned'])}"
            cases.append(Case(f"evacuation.{host}", _label(g), g["duration"], failure, skipped, output))
        suites.append(Suite(host, cases))
    return junit("evacuation", suites)


def render_files(document: Mapping[str, Any]) -> dict[str, str]:
    """Return {file name: text}: evacuation.json, evacuation.md, evacuation.html, evacuation.xml."""
    return {
        "evacuation.json": json_text(document),
        "evacuation.md": render_markdown(document),
        "evacuation.html": render_html(document),
        "evacuation.xml": render_junit(document),
    }
