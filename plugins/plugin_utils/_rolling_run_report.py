# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The reports of a rolling maintenance run: ``rolling-run.{json,md,html,xml}`` and one per batch.

Text in, text out: every figure and sentence comes from the run's state (``_rolling_run``); the
escaping is the rendering layer's (``_render``), so that everything a host reported (host, guest
and mdev names, the kernel's and libvirt's words) is shown as text in every format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._render import (
    Case,
    Suite,
    html_page,
    html_table,
    html_text,
    json_text,
    junit,
    md_paragraph,
    md_table,
    md_text,
)
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling_run import PHASES, run_summary

FORMATS = {"json": "json", "markdown": "md", "html": "html", "junit": "xml"}
PHASE_TEXT = {
    "drain": "drain",
    "maintain": "maintenance tasks",
    "snapshot": "before the reboot",
    "reboot": "reboot",
    "verify": "after the reboot",
    "restart": "guests started again",
    "return": "return",
    "restore": "migration control put back",
}
DASH = "\u2014"


def _names(items: Iterable[Any]) -> str:
    return ", ".join(str(i) for i in items) or DASH


def _guest_list(items: Mapping[str, Mapping[str, Any]], with_result: bool = False) -> str:
    out = []
    for uuid, item in sorted(items.items(), key=lambda kv: (str(kv[1].get("guest") or ""), kv[0])):
        name = str(item.get("guest") or f"mdev {uuid}")
        if with_result:
            codes = ", ".join(item.get("codes") or [])
            name += f" ({item.get('result')}{': ' + codes if codes else ''})"
        elif item.get("to"):
            name += f" \u2192 {item['to']}"
        out.append(name)
    return "; ".join(out) or DASH


def _verify_text(host: str, result: Mapping[str, Any]) -> str:
    """Return one host's check after its reboot in one line."""
    if not isinstance(result, Mapping):
        return f"{host}: not checked"
    parts = [f"{host}: " + ("verified" if result.get("verified") else "NOT as it should be")]
    if result.get("repaired"):
        parts.append("repaired: " + "; ".join(d["detail"] for d in result["repaired"]))
    if result.get("differences"):
        parts.append("differs: " + "; ".join(d["detail"] for d in result["differences"]))
    lost = [f["detail"] for f in result.get("lost") or []]
    if lost:
        parts.append("as foreseen before the reboot: " + "; ".join(lost))
    notes = [n["detail"] for n in result.get("notes") or []]
    if notes:
        parts.append("note: " + "; ".join(notes))
    return " \u2014 ".join(parts)


def batch_rows(batch: Mapping[str, Any], request: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (step, what happened) of one batch, in the order of the steps."""
    done = set(batch.get("done") or [])
    drain = batch.get("drain") or {}
    rows: list[tuple[str, str]] = []
    for phase in PHASES:
        if phase not in done:
            error = batch.get("error") or {}
            rows.append((PHASE_TEXT[phase], f"FAILED: {error.get('message')}" if error.get("phase") == phase else "not done"))
            continue
        if phase == "drain":
            text = f"moved: {_guest_list(drain.get('left') or {})}"
            if drain.get("stayed"):
                text += f"; stayed: {_guest_list(drain['stayed'], with_result=True)}"
        elif phase == "maintain":
            text = "ran " + str(request.get("tasks")) if request.get("tasks") else "none (no vfio_ap_maintenance_tasks)"
        elif phase == "snapshot":
            found = [f"{h}: {f['detail']}" for h, s in sorted((batch.get("snapshots") or {}).items()) for f in s.get("findings") or []]
            text = "everything comes back" if not found else "; ".join(found)
        elif phase == "reboot":
            text = (
                _names(batch.get("rebooted") or []) if request.get("reboot", True) else "not rebooted (vfio_ap_maintenance_reboot: false)"
            )
        elif phase == "verify":
            text = " | ".join(_verify_text(h, v) for h, v in sorted((batch.get("verify") or {}).items())) or DASH
        elif phase == "restart":
            started = [f"{g} on {h}" for h, gs in sorted((batch.get("restarted") or {}).items()) for g in gs]
            text = _names(started)
        elif phase == "return":
            back = batch.get("returns") or {}
            text = f"{request.get('return', 'none')}: moved {_guest_list(back.get('left') or {})}"
            if back.get("stayed"):
                text += f"; failed: {_guest_list(back['stayed'], with_result=True)}"
            if back.get("staying"):
                text += "; staying: " + "; ".join(f"{s['guest']} on {s['at']} ({', '.join(s['codes'])})" for s in back["staying"])
        else:
            text = _names(
                f"mdev {r.get('name')} on {r.get('host')}{'' if r.get('ok', True) else ' (failed)'}" for r in batch.get("restored") or []
            )
        rows.append((PHASE_TEXT[phase], text))
    return rows


def _figures(state: Mapping[str, Any], summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    request = state["request"]
    planned, could_not = summary["stranded_planned"], summary["stranded"]
    same = "as planned" if summary["stranded_as_planned"] else "NOT as planned"
    return [
        ("hosts to maintain", str(summary["hosts"])),
        ("batches", f"{summary['batches_done']} of {summary['batches']} done (at most {request.get('batch_size', 1)} host(s) each)"),
        ("hosts maintained", str(len(summary["maintained"]))),
        ("hosts rebooted", str(len(summary["rebooted"]))),
        ("AP configuration verified after the reboot", f"{len(summary['verified'])} ({len(summary['repaired'])} repaired)"),
        ("migrations to drain the hosts", str(summary["migrations"])),
        (f"migrations back (return: {request.get('return', 'none')})", str(summary["returned"])),
        ("guests started again after the reboot", str(len(summary["restarted"]))),
        (
            "guests that could not leave their host: planned / in the run",
            f"{len(planned)} / {len(could_not)} ({same})"
            + ("" if summary["finished"] else f"; {len(summary['stranded_planned_all'])} planned in all"),
        ),
    ]


def _batches(state: Mapping[str, Any], only: int | None) -> list[Mapping[str, Any]]:
    return [b for b in state["batches"] if only is None or b["index"] == only]


def render_markdown(state: Mapping[str, Any], title: str, only: int | None = None) -> str:
    """Return the run (or one batch, ``only``) as Markdown for the change record."""
    summary = run_summary(state)
    lines = [f"# {md_text(title)}", "", f"**{md_text(summary['verdict'])}.**", ""]
    if only is None:
        lines += md_table(["", ""], _figures(state, summary), "lr") + [""]
        lines.append(md_paragraph(f"Plan: {state['plan']['verdict']}."))
        lines.append("")
    for batch in _batches(state, only):
        lines += [f"## Batch {batch['index']}: {md_text(_names(batch['hosts']))}", ""]
        lines += md_table(["step", "what happened"], batch_rows(batch, state["request"])) + [""]
    if only is None and (summary["stranded_planned"] or summary["stranded"]):
        planned = {s["guest"]: s for s in state["plan"]["stranded"]}
        rows = [
            (g, (planned.get(g) or {}).get("home", DASH), ", ".join((planned.get(g) or {}).get("codes") or []) or DASH,
             "yes" if g in planned else "no", "yes" if g in summary["stranded"] else "no")
            for g in sorted(set(summary["stranded_planned"]) | set(summary["stranded"]))
        ]  # fmt: skip
        lines += ["## Guests that could not leave their host", ""]
        lines += md_table(["guest", "host", "blockers (plan)", "planned", "in the run"], rows) + [""]
    if state.get("stopped"):
        lines += [md_paragraph("Run the same command again to take the run up where it stopped."), ""]
    return "\n".join(lines)


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.ok{color:#1b5e20;font-weight:600}.bad{color:#b71c1c;font-weight:600}
"""


def render_html(state: Mapping[str, Any], title: str, only: int | None = None) -> str:
    """Return the run (or one batch) as one self-contained HTML page."""
    summary = run_summary(state)
    good = summary["finished"] and not state.get("stopped")
    body = [f"<h1>{html_text(title)}</h1>", f'<p id="verdict" class="{"ok" if good else "bad"}">{html_text(summary["verdict"])}.</p>']
    if only is None:
        body += html_table(["", ""], _figures(state, summary), {"id": "summary"})
        body.append(f"<p>Plan: {html_text(state['plan']['verdict'])}.</p>")
    for batch in _batches(state, only):
        body.append(f'<h2 id="batch-{int(batch["index"])}">Batch {int(batch["index"])}: {html_text(_names(batch["hosts"]))}</h2>')
        body += html_table(["step", "what happened"], batch_rows(batch, state["request"]))
    return html_page(title, body, _CSS)


def render_junit(state: Mapping[str, Any], title: str) -> str:
    """Return the run as JUnit XML: a suite per batch, a case per host (failed when its batch stopped, skipped when not done)."""
    suites = []
    for batch in state["batches"]:
        cases = []
        error = batch.get("error") or {}
        for host in batch["hosts"]:
            verify = (batch.get("verify") or {}).get(host)
            if error:
                failure = (error.get("phase", "failed"), str(error.get("message")), str(error.get("message")))
                cases.append(Case(f"batch {batch['index']}", host, failure=failure))
            elif set(PHASES) - set(batch.get("done") or []):
                cases.append(Case(f"batch {batch['index']}", host, skipped="not done yet"))
            else:
                cases.append(Case(f"batch {batch['index']}", host, output=_verify_text(host, verify) if verify else "maintained"))
        suites.append(Suite(f"batch {batch['index']}: {', '.join(batch['hosts'])}", cases))
    return junit(title, suites)


def render(state: Mapping[str, Any], fmt: str, title: str | None = None, batch: int | None = None) -> str:
    """Return the run (``batch``: one batch) in one of :data:`FORMATS`; ValueError for another format."""
    title = title or "Rolling maintenance of " + ", ".join(state["request"]["hosts"])
    if fmt == "json":
        document = {**dict(state), "summary": run_summary(state)}
        if batch is not None:
            document["batches"] = _batches(state, batch)
        return json_text(document)
    if fmt == "markdown":
        return render_markdown(state, title, batch)
    if fmt == "html":
        return render_html(state, title, batch)
    if fmt == "junit":
        return render_junit(state, title)
    raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")


def files(state: Mapping[str, Any], batch: int | None = None, title: str | None = None) -> dict[str, str]:
    """Return ``{file name: text}``: ``rolling-run.{json,md,html,xml}`` and, for ``batch``, ``rolling-batch-N.{json,md,html}``."""
    out = {f"rolling-run.{ext}": render(state, fmt, title) for fmt, ext in FORMATS.items()}
    if batch is not None:
        hosts = ", ".join(state["batches"][int(batch) - 1]["hosts"])
        for fmt, ext in FORMATS.items():
            if fmt != "junit":
                out[f"rolling-batch-{int(batch)}.{ext}"] = render(
                    state, fmt, f"Rolling maintenance, batch {int(batch)}: {hosts}", int(batch)
                )
    return out
