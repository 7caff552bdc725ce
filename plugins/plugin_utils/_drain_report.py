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

import html
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import host_gaps

REPORT_SCHEMA = 1
MODES = ("plan", "check", "execute")
# Results a guest can have, in report order; "ok" ones count as leaving (or having left) the host.
RESULTS = ("moved", "already_moved", "would_move", "planned", "failed", "not_attempted", "skipped", "needs_preparation", "stranded")
OK_RESULTS = {"moved", "already_moved", "would_move", "planned"}
FAILED_RESULTS = {"failed", "stranded", "needs_preparation"}


def host_status(facts_by_host: Mapping[str, Any], hosts: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return ``{host: {empty, running}}``: the guests still using a vfio-ap mdev on each host (empty is None without
    facts, or when the facts could not see everything: ``_audit_gaps``)."""
    status: dict[str, dict[str, Any]] = {}
    for host in hosts:
        facts = facts_by_host.get(host)
        if not isinstance(facts, Mapping) or not isinstance(facts.get("vfio_ap"), Mapping):
            status[host] = {"empty": None, "running": []}
            continue
        running = sorted(m.get("guest") or f"mdev {m.get('uuid')}" for m in facts["vfio_ap"].get("mdevs") or [] if m.get("in_use"))
        # a guest seen is "not empty"; none seen is "empty" only when the facts could see everything
        status[host] = {"empty": False if running else None if host_gaps(facts) else True, "running": running}
    return status


def drain_document(
    evacuation: Mapping[str, Any],
    outcomes: Mapping[str, Mapping[str, Any]] | None,
    held: Mapping[str, str] | None,
    mode: str,
    facts_after: Mapping[str, Any],
    stopped: bool = False,
    previous: Mapping[str, Any] | None = None,
    plan: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the evacuation.json document.

    ``previous``: the document of an earlier run of the same hosts (the evacuation.json found in
    the report directory); its guests that moved and are no longer planned (they left the host)
    are listed again as ``already_moved`` unless ``facts_after`` shows their mdev in use on the
    source again. ``plan``: the migration plan, whose ``summary.stranded[].top_blockers`` (the
    blockers that matter, over the nearest destinations) become a stranded guest's ``codes``
    (else every blocker code of the plan entry).

    The evacuation plan's keys (``schema, hosts, prepare, evacuable, verdict, summary, guests,
    destinations``) stay as they are; each guest gets ``planned_destination, actual_destination,
    result, stage, codes, message, duration, prepared, rerouted, kernel``; the document gets
    ``report_schema, mode, stopped, results`` (counts per result), ``host_status`` ({host: {empty,
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
                if entry.get("destination") is None:
                    result = "stranded"
                elif entry.get("status") == "prepare" and not evacuation.get("prepare"):
                    result = "needs_preparation"
                else:
                    result = "planned" if mode == "plan" else "not_attempted"
            codes = (top.get(entry["uuid"]) or list(dict.fromkeys(entry.get("blockers") or []))) if result == "stranded" else []
            message = entry.get("reason") or (
                "needs a destination prepared first (vfio_ap_maintenance_prepare)" if result == "needs_preparation" else ""
            )
            if result == "not_attempted":
                codes, message = ["not_attempted"], "not attempted: the run stopped at an earlier failure"
            out = {
                "result": result,
                "stage": None,
                "codes": codes,
                "message": message,
                "duration": None,
                "prepared": entry.get("prepare", False) and result == "planned",
                "rerouted": False,
                "kernel": [],
                "actual_destination": None,
            }
        guests.append(
            {
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
            }
        )
    guests += _moved_before(previous, evacuation, guests, facts_after)
    counts = Counter(g["result"] for g in guests)
    status = host_status(facts_after, evacuation.get("hosts") or [])
    all_empty = all(s["empty"] is True for s in status.values()) if status else False
    names = ", ".join(evacuation.get("hosts") or [])
    if mode == "plan":
        outcome = evacuation.get("verdict") or ""
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
        "stopped": bool(stopped),
        "guests": guests,
        "results": {r: counts[r] for r in RESULTS if counts[r]},
        "host_status": status,
        "all_empty": all_empty,
        "outcome": outcome,
    }


def _moved_before(
    previous: Any, evacuation: Mapping[str, Any], guests: list[dict[str, Any]], facts_after: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Return the guests an earlier run moved off these hosts that this run no longer plans, as ``already_moved``."""
    if not isinstance(previous, Mapping) or sorted(previous.get("hosts") or []) != sorted(evacuation.get("hosts") or []):
        return []
    planned = {g["uuid"] for g in guests}
    carried = []
    for g in previous.get("guests") or []:
        if not isinstance(g, Mapping) or g.get("result") not in ("moved", "already_moved") or g.get("uuid") in planned:
            continue
        source = (facts_after.get(str(g.get("source"))) or {}).get("vfio_ap") or {}
        if any(m.get("uuid") == g["uuid"] and m.get("in_use") for m in source.get("mdevs") or []):
            continue  # it runs on the source again
        carried.append({**g, "result": "already_moved", "stage": None, "codes": [], "duration": None, "kernel": [],
                        "message": "moved by an earlier run", "command": None})  # fmt: skip
    return carried


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
    codes = ", ".join(guest["codes"])
    message = guest.get("message") or ""
    return f"{codes} — {message}" if codes and message else codes or message


def _duration(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f} s"


def drain_messages(document: Mapping[str, Any], report_dir: str | None = None) -> dict[str, Any]:
    """Return what the maintenance role says at the end: ``{lines, failed}``.

    ``lines``: the outcome sentence, then, for a plan, the ``virsh migrate`` command of every guest
    that has one, else one line per guest (``web1: moved to kvm-b1``, ``db1: failed (codes)``).
    ``failed``: the outcome followed by every failed guest with its codes and message and where the
    report is (``""`` when no guest failed).
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("guests"), list):
        raise ValueError("expected a drain document (drain_report's document, with 'guests')")
    guests = [g for g in document["guests"] if isinstance(g, Mapping)]
    lines = [str(document.get("outcome") or "")]
    if document.get("mode") == "plan":
        lines += [g["command"] for g in guests if isinstance(g.get("command"), str)]
    else:
        for g in guests:
            line = f"{_label(g)}: {str(g.get('result')).replace('_', ' ')}"
            if g.get("actual_destination"):
                line += f" on {g['actual_destination']}"
            if g.get("codes"):
                line += f" ({', '.join(g['codes'])})"
            lines.append(line)
    failed = [g for g in guests if g.get("result") == "failed"]
    text = ""
    if failed:
        where = f"{report_dir}/evacuation.md" if report_dir else "evacuation.md"
        text = (
            f"{document.get('outcome') or ''}: "
            + "; ".join(f"{_label(g)} ({', '.join(g.get('codes') or [])}: {g.get('message') or ''})" for g in failed)
            + f" (see {where})"
        )
    return {"lines": lines, "failed": text}


def render_markdown(document: Mapping[str, Any]) -> str:
    """Return evacuation.md: outcome, hosts, one row per guest, and the commands of a plan."""

    def md(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [f"# Evacuation of {', '.join(document['hosts'])} ({document['mode']})", "", document["outcome"] + ".", ""]
    lines += ["| host | empty | vfio-ap guests still running |", "|---|---|---|"]
    for host, status in document["host_status"].items():
        empty = "unknown" if status["empty"] is None else "yes" if status["empty"] else "no"
        lines.append(f"| {host} | {empty} | {md(', '.join(status['running']) or '—')} |")
    lines += ["", "| guest | source | planned | actual | result | duration | reason |", "|---|---|---|---|---|---|---|"]
    for g in document["guests"]:
        lines.append(
            f"| {md(_label(g))} | {g['source']} | {g['planned_destination'] or '—'} | {g['actual_destination'] or '—'} | {g['result']}"
            f"{' (prepared)' if g['prepared'] and g['result'] != 'planned' else ''} | {_duration(g['duration'])} | {md(_why(g))} |"
        )
    kernel = [(g, line) for g in document["guests"] for line in g["kernel"]]
    if kernel:
        lines += ["", "Kernel messages of the refused migrations:", "", "```"] + [f"{_label(g)}: {line}" for g, line in kernel] + ["```"]
    commands = [g["command"] for g in document["guests"] if g.get("command") and g["result"] == "planned"]
    if commands:
        lines += ["", "Run, after any preparation, one at a time:", "", "```sh", *commands, "```"]
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}"
    ".moved,.already_moved,.would_move,.planned{background:#dfd}.failed,.stranded,.needs_preparation{background:#fdd}"
    ".not_attempted,.skipped{background:#eee}"
)


def render_html(document: Mapping[str, Any]) -> str:
    """Return evacuation.html: one self-contained page (inline CSS, no scripts)."""
    e = html.escape
    title = f"Evacuation of {', '.join(document['hosts'])}"
    out = [
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{e(title)}</title><style>{_CSS}</style></head><body>',
        f"<h1>{e(title)} ({e(document['mode'])})</h1>",
        f"<p>{e(document['outcome'])}.</p>",
        "<table><tr><th>host</th><th>empty</th><th>vfio-ap guests still running</th></tr>",
    ]
    for host, status in document["host_status"].items():
        empty = "unknown" if status["empty"] is None else "yes" if status["empty"] else "no"
        out.append(f"<tr><td>{e(host)}</td><td>{empty}</td><td>{e(', '.join(status['running']) or '—')}</td></tr>")
    out.append(
        "</table><table><tr><th>guest</th><th>source</th><th>planned</th><th>actual</th><th>result</th><th>duration</th><th>reason</th></tr>"
    )
    for g in document["guests"]:
        kernel = "".join(f"<br><code>{e(line)}</code>" for line in g["kernel"])
        prepared = " (prepared)" if g["prepared"] and g["result"] != "planned" else ""
        cells = [_label(g), g["source"] or "", g["planned_destination"] or "—", g["actual_destination"] or "—", g["result"] + prepared]
        out.append(
            f'<tr class="{e(g["result"])}">'
            + "".join(f"<td>{e(cell)}</td>" for cell in cells)
            + f"<td>{_duration(g['duration'])}</td><td>{e(_why(g))}{kernel}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"


def render_junit(document: Mapping[str, Any]) -> str:
    """Return evacuation.xml (JUnit): a suite per host going into maintenance, a case per guest.

    A case fails when the guest did not (or would not) leave: failed, stranded, needs_preparation;
    it is skipped when it was not attempted or no longer ran on the host.
    """

    def e(text: Any) -> str:
        return html.escape(str(text), quote=True)

    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<testsuites name="evacuation" tests="{len(document["guests"])}">']
    for host in document["hosts"]:
        cases = [g for g in document["guests"] if g["source"] == host]
        failures = sum(g["result"] in FAILED_RESULTS for g in cases)
        skipped = sum(g["result"] in ("not_attempted", "skipped") for g in cases)
        out.append(f'  <testsuite name="{e(host)}" tests="{len(cases)}" failures="{failures}" skipped="{skipped}">')
        for g in cases:
            time = f' time="{float(g["duration"]):.3f}"' if g["duration"] is not None else ""
            out.append(f'    <testcase classname="evacuation.{e(host)}" name="{e(_label(g))}"{time}>')
            if g["result"] in FAILED_RESULTS:
                out.append(f'      <failure type="{e(g["result"])}" message="{e(_why(g))}">{e(chr(10).join(g["kernel"]))}</failure>')
            elif g["result"] in ("not_attempted", "skipped"):
                out.append(f'      <skipped message="{e(_why(g))}"/>')
            else:
                out.append(
                    f"      <system-out>{e(g['result'])} to {e(g['actual_destination'] or g['planned_destination'] or '')}</system-out>"
                )
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def render_files(document: Mapping[str, Any]) -> dict[str, str]:
    """Return {file name: text}: evacuation.json, evacuation.md, evacuation.html, evacuation.xml."""
    return {
        "evacuation.json": json.dumps(document, indent=2, sort_keys=True) + "\n",
        "evacuation.md": render_markdown(document),
        "evacuation.html": render_html(document),
        "evacuation.xml": render_junit(document),
    }
