# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The rolling maintenance plan as JSON, Markdown and HTML (rolling-plan.json, .md, .html): its content only.

Text in, text out: every figure and sentence comes from the plan (``_rolling.rolling_plan``).
Everything a host reported (host, guest and mdev names, reason details) is escaped for the format
it lands in by the one rendering layer (``_render``), as in the audit's and the drain's reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._render import (
    Cell,
    Row,
    html_attrs,
    html_page,
    html_table,
    html_text,
    json_text,
    md_paragraph,
    md_table,
    md_text,
)

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


def _stranded_blockers(item: Mapping[str, Any]) -> str:
    """Return the blockers of a stranded guest's destinations, else those of its source, else a dash."""
    return _codes(item.get("blockers")) or ", ".join(b.get("code", "") for b in item.get("source_blockers") or []) or "\u2014"


def _batches(item: Mapping[str, Any]) -> str:
    """Return an order's batches as ``a, b / c``."""
    return " / ".join(", ".join(_names(b)) for b in item["batches"])


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
    return json_text(require_rolling_plan(plan))


# --------------------------------------------------------------------------------- Markdown


def render_markdown(plan: Mapping[str, Any], title: str | None = None) -> str:
    """Return rolling-plan.md: what a person pastes into the change ticket of the maintenance."""
    plan = require_rolling_plan(plan)
    lines = [f"# {md_text(title or 'Rolling maintenance plan')}", "", f"**{md_text(plan['verdict'])}.**", ""]
    lines += md_table(["", ""], _figures(plan), "lr") + [""]
    lines.append(md_paragraph(f"Hosts to maintain: {', '.join(_names(plan['hosts']))}."))
    if plan.get("avoid"):
        lines.append(md_paragraph(f"Never used as destinations (avoid): {', '.join(_names(plan['avoid']))}."))
    if plan.get("not_audited"):
        lines.append(f"**Not audited (no vfio_ap facts), not used as destinations:** {md_text(', '.join(_names(plan['not_audited'])))}.")
    if not plan.get("prepare"):
        lines.append("Destinations that need preparation are not used (prepare: false).")
    lines.append("")
    lines += ["## Batches", ""]
    for batch in plan["batches"]:
        lines += [f"### Batch {batch['index']}: {md_text(', '.join(_names(batch['hosts'])))}", ""]
        if batch["moves"]:
            rows = [[_label(m), m["from"], m["to"], TIER_TEXT.get(m["tier"], m["tier"]), _preparation(m)] for m in batch["moves"]]
            lines += md_table(["guest", "from", "to", "destination", "first"], rows) + [""]
            notes = [md_paragraph(f"Note: {_label(m)}: {m['note']}.") for m in batch["moves"] if m.get("note")]
            lines += notes + ([""] if notes else [])
        else:
            lines += ["No guest to move.", ""]
        if batch["stranded"]:
            stranded = "; ".join(f"{_label(s)} on {s['host']}" for s in batch["stranded"])
            lines += [md_paragraph(f"Stranded (stay on their host): {stranded}."), ""]
    if plan["stranded"]:
        unavoidable = {item["uuid"] for item in plan["unavoidable"]}
        rows = [
            [_label(item), item["host"], item["batch"], _stranded_blockers(item), _unavailable(item.get("unavailable")) or "\u2014",
             "yes" if item["uuid"] in unavoidable else "no"]
            for item in plan["stranded"]
        ]  # fmt: skip
        headers = ["guest", "host", "batch", "blockers (destinations)", "other destinations unavailable", "every order"]
        lines += ["## Stranded guests", "", *md_table(headers, rows, "llr"), ""]
    paths = _paths(plan)
    if paths:
        lines += ["## Guests that move more than once", "", *md_table(["guest", "path"], [[_label(g), path] for g, path in paths]), ""]
    rows = [[item["order"], _batches(item), item["moves"], item["moved_again"], item["stranded"]] for item in plan["orders"]]
    lines += ["## Orders tried", "", *md_table(["order", "batches", "migrations", "moving again", "stranded"], rows, "llrrr"), ""]
    lines += [md_paragraph(f"Warning: {warning}") for warning in plan.get("warnings") or []]
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
    out = [f"<h1>{html_text(heading)}</h1>", f"<p{html_attrs({'id': 'verdict', 'class': verdict_class})}>{html_text(plan['verdict'])}.</p>"]
    out.append('<table class="counts" id="summary"><tbody>')
    out += [Row([Cell(k, "th"), v]).render() for k, v in _figures(plan)]
    out.append("</tbody></table>")
    out.append(f"<p>Hosts to maintain: {html_text(', '.join(_names(plan['hosts'])))}.</p>")
    if plan.get("avoid"):
        out.append(f'<p id="avoid">Never used as destinations (avoid): {html_text(", ".join(_names(plan["avoid"])))}.</p>')
    if plan.get("not_audited"):
        names = html_text(", ".join(_names(plan["not_audited"])))
        out.append(f'<p id="not-audited"><strong>Not audited (no vfio_ap facts):</strong> {names}.</p>')
    out.append("<h2>Batches</h2>")
    for batch in plan["batches"]:
        out.append(f'<h3 id="batch-{batch["index"]}">Batch {batch["index"]}: {html_text(", ".join(_names(batch["hosts"])))}</h3>')
        rows = [
            Row(
                [_label(m), m["from"], m["to"], TIER_TEXT.get(m["tier"], m["tier"]), _preparation(m)],
                {"class": m["tier"], "data-uuid": m["uuid"]},
            )
            for m in batch["moves"]
        ]
        rows += [
            Row([_label(s), s["host"], "\u2014", "stranded", _codes(s.get("blockers")) or _unavailable(s.get("unavailable"))],
                {"class": "stranded", "data-uuid": s["uuid"]})
            for s in batch["stranded"]
        ]  # fmt: skip
        out += [f'<p class="note">{html_text(_label(m))}: {html_text(m["note"])}.</p>' for m in batch["moves"] if m.get("note")]
        out += html_table(["guest", "from", "to", "destination", "first / why"], rows) if rows else ["<p>No guest to move.</p>"]
    if plan["stranded"]:
        unavoidable = {item["uuid"] for item in plan["unavoidable"]}
        rows = [
            Row([_label(item), item["host"], item["batch"], _codes(item.get("blockers")), _unavailable(item.get("unavailable")),
                 "yes" if item["uuid"] in unavoidable else "no"], {"data-uuid": item["uuid"]})
            for item in plan["stranded"]
        ]  # fmt: skip
        headers = ["guest", "host", "batch", "blockers (destinations)", "other destinations unavailable", "every order"]
        out += ["<h2>Stranded guests</h2>", *html_table(headers, rows, {"id": "stranded"})]
    paths = _paths(plan)
    if paths:
        out.append('<h2>Guests that move more than once</h2><table id="again"><tbody>')
        out += [Row([Cell(_label(g), "th"), path]).render() for g, path in paths]
        out.append("</tbody></table>")
    order_rows: list[list[Any]] = [
        [item["order"], _batches(item), item["moves"], item["moved_again"], item["stranded"]] for item in plan["orders"]
    ]
    out += [
        "<h2>Orders tried</h2>",
        *html_table(["order", "batches", "migrations", "moving again", "stranded"], order_rows, {"id": "orders"}),
    ]
    out += [f'<p class="warning">{html_text(w)}</p>' for w in plan.get("warnings") or []]
    out.append("<p>Reason codes and remedies: docs/reason-codes.md of the s390x.vfio_ap collection.</p>")
    return html_page(heading, out, _CSS)


def rolling_report(plan: Mapping[str, Any], fmt: str, title: str | None = None) -> str:
    """Return the plan rendered in one of FORMATS; ValueError for another format."""
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan, title)
    if fmt == "html":
        return render_html(plan, title)
    raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
