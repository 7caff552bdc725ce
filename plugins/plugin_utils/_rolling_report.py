# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The rolling maintenance plan as JSON, Markdown and HTML (rolling-plan.json, .md, .html).

Text in, text out: every figure and sentence comes from the plan (``_rolling.rolling_plan``).
Everything a host reported (host, guest and mdev names, reason details) is escaped for the format
it lands in: Markdown escapes HTML and its own inline and table syntax, HTML escapes for element
text and attribute values. The escaping is local to this file so that it can move onto a shared
rendering layer unchanged.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMATS = {"json": "rolling-plan.json", "markdown": "rolling-plan.md", "html": "rolling-plan.html"}
TIER_TEXT = {
    "outside": "not due for maintenance",
    "maintained": "maintained already",
    "later": "due later: moves again",
}
UNAVAILABLE_TEXT = {
    "same_batch": "in the same batch",
    "avoid": "avoided",
    "apqn_in_use": "APQNs taken by a guest placed there by the plan",
    "no_free_instances": "no free mdev instance left",
    "needs_preparation": "ready only after preparation (preparation not allowed)",
}
PLAN_KEYS = ("hosts", "batch_size", "order", "verdict", "summary", "batches", "stranded", "unavoidable", "orders", "guests")


def require_rolling_plan(plan: Any) -> Mapping[str, Any]:
    """Return ``plan`` when it is a rolling_plan result; ValueError naming what is missing otherwise."""
    if not isinstance(plan, Mapping):
        raise ValueError(f"expected a rolling_plan result (a dict), got {type(plan).__name__}")
    missing = [k for k in PLAN_KEYS if k not in plan]
    if missing:
        raise ValueError(f"expected a rolling_plan result: {', '.join(missing)} missing")
    if plan.get("schema") != 1:
        raise ValueError(f"rolling plan schema {plan.get('schema')!r} is not supported (expected 1); plan again")
    return plan


# ------------------------------------------------------------------------------------- text

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def md(text: Any) -> str:
    """Return text safe inside a Markdown line or table cell (never at the start of a line): HTML escaped,
    inline and table syntax (emphasis, code, links, pipes, strike-through) backslash-escaped, one line."""
    one_line = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def e(text: Any) -> str:
    """Return text escaped for HTML element content and attribute values."""
    return html.escape(str(text), quote=True)


def _names(items: Iterable[Any]) -> list[str]:
    return [str(i) for i in items]


def _label(item: Mapping[str, Any]) -> str:
    return str(item.get("guest") or f"mdev {item.get('uuid')}")


def _codes(counts: Mapping[str, Any] | None) -> str:
    """Return "code (n), ..." for {code: number of destinations}."""
    return ", ".join(f"{code} ({n})" for code, n in (counts or {}).items())


def _unavailable(counts: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{UNAVAILABLE_TEXT.get(k, k)} ({n})" for k, n in (counts or {}).items())


def _preparation(move: Mapping[str, Any]) -> str:
    """Return what a move needs first: the blockers preparation fixes, enabling migration, or a dash."""
    parts = [", ".join(move.get("codes") or []) or "yes"] if move.get("prepare") else []
    if move.get("enable_migration"):
        parts.append("enable migration")
    return "; ".join(parts) or "\u2014"


def _paths(plan: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str]]:
    """Return (guest, "home -> host (batch n) -> ...") for the guests that move more than once."""
    out = []
    for guest in plan["guests"]:
        moves = guest.get("moves") or []
        if len(moves) > 1:
            steps = [str(guest.get("home"))] + [f"{m['to']} (batch {m['batch']})" for m in moves]
            out.append((guest, " \u2192 ".join(steps)))
    return out


def _figures(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    s = plan["summary"]
    stranded = str(s["stranded"])
    if s["stranded"]:
        stranded += f" ({s['unavoidable']} in every order tried)"
    return [
        ("hosts to maintain", str(s["hosts"])),
        (
            "batches",
            f"{s['batches']} (at most {plan['batch_size']} host{'s' if plan['batch_size'] != 1 else ''} each; order: {plan['order']})",
        ),
        ("vfio-ap guests", str(s["guests"])),
        ("migrations", str(s["moves"])),
        ("guests that move more than once", f"{s['moved_again']} ({s['extra_moves']} extra migrations)"),
        ("migrations to a destination that needs preparation", str(s["prepare"])),
        ("guests stranded", stranded),
    ]


# ------------------------------------------------------------------------------------- JSON


def render_json(plan: Mapping[str, Any]) -> str:
    """Return rolling-plan.json: the plan, sorted keys, two-space indent, newline-terminated."""
    return json.dumps(require_rolling_plan(plan), indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------------- Markdown


def render_markdown(plan: Mapping[str, Any], title: str | None = None) -> str:
    """Return rolling-plan.md: what a person pastes into the change ticket of the maintenance."""
    plan = require_rolling_plan(plan)
    lines = [f"# {md(title or 'Rolling maintenance plan')}", "", f"**{md(plan['verdict'])}.**", ""]
    lines += ["| | |", "|---|---:|"] + [f"| {md(k)} | {md(v)} |" for k, v in _figures(plan)] + [""]
    lines.append(f"Hosts to maintain: {md(', '.join(_names(plan['hosts'])))}.")
    if plan.get("avoid"):
        lines.append(f"Never used as destinations (avoid): {md(', '.join(_names(plan['avoid'])))}.")
    if plan.get("not_audited"):
        lines.append(f"**Not audited (no vfio_ap facts), not used as destinations:** {md(', '.join(_names(plan['not_audited'])))}.")
    if not plan.get("prepare"):
        lines.append("Destinations that need preparation are not used (prepare: false).")
    lines.append("")
    lines += ["## Batches", ""]
    for batch in plan["batches"]:
        lines += [f"### Batch {batch['index']}: {md(', '.join(_names(batch['hosts'])))}", ""]
        if batch["moves"]:
            lines += ["| guest | from | to | destination | first |", "|---|---|---|---|---|"]
            for move in batch["moves"]:
                prep = _preparation(move)
                lines.append(
                    f"| {md(_label(move))} | {md(move['from'])} | {md(move['to'])} | {md(TIER_TEXT.get(move['tier'], move['tier']))} "
                    f"| {md(prep)} |"
                )
            lines.append("")
            notes = [f"Note: {md(_label(m))}: {md(m['note'])}." for m in batch["moves"] if m.get("note")]
            lines += notes + ([""] if notes else [])
        else:
            lines += ["No guest to move.", ""]
        if batch["stranded"]:
            lines.append("Stranded (stay on their host): " + md("; ".join(f"{_label(s)} on {s['host']}" for s in batch["stranded"])) + ".")
            lines.append("")
    if plan["stranded"]:
        unavoidable = {item["uuid"] for item in plan["unavoidable"]}
        lines += [
            "## Stranded guests",
            "",
            "| guest | host | batch | blockers (destinations) | other destinations unavailable | every order |",
            "|---|---|---:|---|---|---|",
        ]
        for item in plan["stranded"]:
            blockers = _codes(item.get("blockers")) or ", ".join(b.get("code", "") for b in item.get("source_blockers") or []) or "\u2014"
            lines.append(
                f"| {md(_label(item))} | {md(item['host'])} | {item['batch']} | {md(blockers)} "
                f"| {md(_unavailable(item.get('unavailable')) or chr(0x2014))} | {'yes' if item['uuid'] in unavoidable else 'no'} |"
            )
        lines.append("")
    paths = _paths(plan)
    if paths:
        lines += ["## Guests that move more than once", "", "| guest | path |", "|---|---|"]
        lines += [f"| {md(_label(g))} | {md(path)} |" for g, path in paths]
        lines.append("")
    lines += ["## Orders tried", "", "| order | batches | migrations | moving again | stranded |", "|---|---|---:|---:|---:|"]
    for item in plan["orders"]:
        batches = " / ".join(", ".join(_names(b)) for b in item["batches"])
        lines.append(f"| {md(item['order'])} | {md(batches)} | {item['moves']} | {item['moved_again']} | {item['stranded']} |")
    lines.append("")
    for warning in plan.get("warnings") or []:
        lines.append(f"Warning: {md(warning)}")
    lines += ["Reason codes and remedies: docs/reason-codes.md of the s390x.vfio_ap collection.", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.counts td{text-align:right;min-width:4em}
.feasible{color:#1b5e20;font-weight:600}.infeasible{color:#b71c1c;font-weight:600}
.outside,.maintained{background:#e8f5e9}.later{background:#fff8e1}.stranded{background:#ffebee}
"""


def render_html(plan: Mapping[str, Any], title: str | None = None) -> str:
    """Return rolling-plan.html: one self-contained page (inline CSS, no scripts or external assets)."""
    plan = require_rolling_plan(plan)
    heading = title or "Rolling maintenance plan"
    verdict_class = "feasible" if not plan["summary"]["stranded"] else "infeasible"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(heading)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(heading)}</h1>",
        f'<p id="verdict" class="{verdict_class}">{e(plan["verdict"])}.</p>',
        '<table class="counts" id="summary"><tbody>',
    ]
    out += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _figures(plan)]
    out.append("</tbody></table>")
    out.append(f"<p>Hosts to maintain: {e(', '.join(_names(plan['hosts'])))}.</p>")
    if plan.get("avoid"):
        out.append(f'<p id="avoid">Never used as destinations (avoid): {e(", ".join(_names(plan["avoid"])))}.</p>')
    if plan.get("not_audited"):
        out.append(f'<p id="not-audited"><strong>Not audited (no vfio_ap facts):</strong> {e(", ".join(_names(plan["not_audited"])))}.</p>')
    out.append("<h2>Batches</h2>")
    for batch in plan["batches"]:
        out.append(f'<h3 id="batch-{batch["index"]}">Batch {batch["index"]}: {e(", ".join(_names(batch["hosts"])))}</h3>')
        rows = [
            f'<tr class="{e(m["tier"])}" data-uuid="{e(m["uuid"])}"><td>{e(_label(m))}</td><td>{e(m["from"])}</td><td>{e(m["to"])}</td>'
            f"<td>{e(TIER_TEXT.get(m['tier'], m['tier']))}</td>"
            f"<td>{e(_preparation(m))}</td></tr>"
            for m in batch["moves"]
        ]
        rows += [
            f'<tr class="stranded" data-uuid="{e(s["uuid"])}"><td>{e(_label(s))}</td><td>{e(s["host"])}</td><td>&mdash;</td>'
            f"<td>stranded</td><td>{e(_codes(s.get('blockers')) or _unavailable(s.get('unavailable')))}</td></tr>"
            for s in batch["stranded"]
        ]
        out += [f'<p class="note">{e(_label(m))}: {e(m["note"])}.</p>' for m in batch["moves"] if m.get("note")]
        if rows:
            out.append(
                "<table><thead><tr><th>guest</th><th>from</th><th>to</th><th>destination</th><th>first / why</th></tr></thead><tbody>"
            )
            out += rows
            out.append("</tbody></table>")
        else:
            out.append("<p>No guest to move.</p>")
    if plan["stranded"]:
        unavoidable = {item["uuid"] for item in plan["unavoidable"]}
        out += [
            "<h2>Stranded guests</h2>",
            '<table id="stranded"><thead><tr><th>guest</th><th>host</th><th>batch</th><th>blockers (destinations)</th>'
            "<th>other destinations unavailable</th><th>every order</th></tr></thead><tbody>",
        ]
        for item in plan["stranded"]:
            out.append(
                f'<tr data-uuid="{e(item["uuid"])}"><td>{e(_label(item))}</td><td>{e(item["host"])}</td><td>{item["batch"]}</td>'
                f"<td>{e(_codes(item.get('blockers')))}</td><td>{e(_unavailable(item.get('unavailable')))}</td>"
                f"<td>{'yes' if item['uuid'] in unavoidable else 'no'}</td></tr>"
            )
        out.append("</tbody></table>")
    paths = _paths(plan)
    if paths:
        out.append('<h2>Guests that move more than once</h2><table id="again"><tbody>')
        out += [f"<tr><th>{e(_label(g))}</th><td>{e(path)}</td></tr>" for g, path in paths]
        out.append("</tbody></table>")
    out.append('<h2>Orders tried</h2><table id="orders"><thead><tr><th>order</th><th>batches</th><th>migrations</th>'
               "<th>moving again</th><th>stranded</th></tr></thead><tbody>")  # fmt: skip
    for item in plan["orders"]:
        batches = " / ".join(", ".join(_names(b)) for b in item["batches"])
        out.append(
            f"<tr><td>{e(item['order'])}</td><td>{e(batches)}</td><td>{item['moves']}</td>"
            f"<td>{item['moved_again']}</td><td>{item['stranded']}</td></tr>"
        )
    out.append("</tbody></table>")
    out += [f'<p class="warning">{e(w)}</p>' for w in plan.get("warnings") or []]
    out.append("<p>Reason codes and remedies: docs/reason-codes.md of the s390x.vfio_ap collection.</p></body></html>")
    return "\n".join(out) + "\n"


def rolling_report(plan: Mapping[str, Any], fmt: str, title: str | None = None) -> str:
    """Return the plan rendered in one of FORMATS; ValueError for another format."""
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan, title)
    if fmt == "html":
        return render_html(plan, title)
    raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
