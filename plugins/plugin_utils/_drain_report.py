# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The drain report of the ``maintenance`` role: the drain document as files and as what the run prints.

The document (``_drain_document``) becomes evacuation.json, .md, .html and .xml (JUnit), all
through the one rendering layer (``_render``), and the lines the role shows at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import CLEANUP_FAILED, FAILED_RESULTS, OK_RESULTS, drain_summary
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
    that has one, else one line per guest (``web1: moved on kvm-b1``, ``db1: failed (codes)``).
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


def drain_report(document: Mapping[str, Any], report_dir: str | None = None) -> dict[str, Any]:
    """Return everything the drain hands out: ``{document, files, summary, messages}``.

    ``files``: :func:`render_files`; ``summary``: the set_stats data (``_drain_document.drain_summary``);
    ``messages``: :func:`drain_messages`.
    """
    return {
        "document": document,
        "files": render_files(document),
        "summary": drain_summary(document, report_dir),
        "messages": drain_messages(document, report_dir),
    }
