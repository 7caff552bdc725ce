# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""Readiness reports of the audit role: rendering a ``migration_plan`` (docs/plan-schema.md).

Text in, text out; no plan logic here: verdicts, reasons, suggestions and the per-host
evacuation verdicts all come from the plan. The report document (``readiness.json``, schema in
docs/audit.md) wraps the plan with the audit's title, the hosts that had no facts and the
summary that ``set_stats`` publishes. Escaping, tables, the page and JUnit come from the one
rendering layer (``_render.py``): whatever a host reported, each file parses and shows it as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._advice import blocked_advice, host_flags, remedy, warnings_by_code
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan_shape import require_plan, is_idle, listed_hosts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import FIXABLE_CODES
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._render import (
    Case,
    Cell,
    Row,
    Suite,
    html_attr,
    html_page,
    html_table,
    json_text,
    junit,
    md_code,
    md_code_block,
    md_paragraph,
    md_table,
    md_text,
    Raw,
)

REPORT_SCHEMA = 1
FORMATS = {
    "json": "readiness.json",
    "markdown": "readiness.md",
    "html": "readiness.html",
    "junit": "readiness.xml",
}
_VERDICT_TEXT = {"ready": "ready", "ready_after": "ready after preparation", "blocked": "blocked"}


def _require_plan(plan: Any) -> Mapping[str, Any]:
    return require_plan(plan, "readiness report")


def running_guests(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the planned mdevs a guest uses or may use (idle mdevs need not leave and are not rows)."""
    return [g for g in plan["guests"] if not is_idle(g)]


def idle_mdevs(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the planned mdevs complete facts show no guest uses (landing or spare mdevs)."""
    return [g for g in plan["guests"] if is_idle(g)]


NO_FACTS = "no vfio_ap facts (unreachable, its gather failed, or not in the fact cache)"
NO_FACTS_FIX = "gather them (s390x.vfio_ap.ap_facts, vfio_ap_audit_gather: true) and audit again"
NOT_FULLY_AUDITED = (
    "Nothing is claimed about what could not be seen: their guests are not counted as able to leave, their mdevs are "
    "not called idle, and they are offered to no guest as a destination."
)


def audit_problems(plan: Mapping[str, Any], not_audited: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Return {host: [(what was not seen, the fix)]} of the hosts the audit could not (fully) judge, by name.

    Hosts without facts (``not_audited``) and hosts of the plan whose facts have gaps (``facts_gaps``).
    """
    found: dict[str, list[tuple[str, str]]] = {host: [(NO_FACTS, NO_FACTS_FIX)] for host in not_audited}
    for host, gaps in (plan.get("facts_gaps") or {}).items():
        found.setdefault(host, []).extend((str(g.get("detail")), str(g.get("fix"))) for g in gaps)
    return {host: found[host] for host in sorted(found)}


def guest_label(guest: Mapping[str, Any]) -> str:
    """Return how a guest is named in reports: its libvirt name, else ``mdev <uuid>``."""
    return guest.get("guest") or f"mdev {guest['uuid']}"


def readiness_summary(plan: Mapping[str, Any], not_audited: Iterable[str] = (), report_dir: str | None = None) -> dict[str, Any]:
    """Return the audit summary (set_stats data): counts, guests without destination, hosts that cannot be evacuated."""
    plan = _require_plan(plan)
    summary = plan["summary"]
    hosts = summary.get("hosts") or {}
    stranded = [
        {
            "guest": item.get("guest"),
            "uuid": item["uuid"],
            "source": item.get("source"),
            "top_blockers": list(item.get("top_blockers") or []),
        }
        for item in summary.get("stranded") or []
    ]
    missing = sorted(set(not_audited))
    gaps = plan.get("facts_gaps") or {}
    problems = audit_problems(plan, missing)
    result = {
        "schema": REPORT_SCHEMA,
        "hosts": len(set(plan.get("sources") or []) | set(plan.get("destinations") or [])),
        "fully_audited": not problems,
        "not_audited": missing,
        "not_fully_audited": sorted(gaps),
        "audit_gaps": [f"{host}: {detail}: {fix}" for host, items in problems.items() for detail, fix in items],
        "guests": summary.get("guests", 0),
        "ready": summary.get("ready", 0),
        "ready_after": summary.get("ready_after", 0),
        "blocked": summary.get("blocked", 0),
        "idle_mdevs": len(idle_mdevs(plan)),
        "top_blockers": [dict(item) for item in summary.get("top_blockers") or []],
        "guests_without_destination": stranded,
        "hosts_not_evacuable": sorted(h for h, v in hosts.items() if not v.get("evacuable_after_preparation")),
        "hosts_evacuable_after_preparation": sorted(
            h for h, v in hosts.items() if v.get("evacuable_after_preparation") and not v.get("evacuable")
        ),
    }
    if report_dir is not None:
        result["report_dir"] = report_dir
    return result


def report_document(plan: Mapping[str, Any], title: str, not_audited: Iterable[str] = ()) -> dict[str, Any]:
    """Return the readiness.json document: ``{schema, title, summary, not_audited, plan}``."""
    plan = _require_plan(plan)
    missing = sorted(set(not_audited))
    return {
        "schema": REPORT_SCHEMA,
        "generator": "s390x.vfio_ap.audit",
        "title": title,
        "summary": readiness_summary(plan, missing),
        "not_audited": missing,
        "plan": plan,
    }


def _more(guest: Mapping[str, Any], verdict: str) -> str:
    """Return the listed destinations of a verdict, with "+N more" when the plan capped the list."""
    hosts = listed_hosts(guest, verdict)
    extra = int((guest.get(verdict) or {}).get("count") or 0) - len(hosts)
    return _list(hosts) + (f" (+{extra} more)" if extra > 0 else "")


def _cells(guest: Mapping[str, Any]) -> tuple[dict[str, tuple[str, list[str]]], bool]:
    """Return ({destination: (verdict, blocker codes)} of the destinations a planned guest lists, complete).

    complete is True when the plan listed every ready and ready-after destination: then every
    destination not listed is blocked.
    """
    cells: dict[str, tuple[str, list[str]]] = {host: ("ready", []) for host in listed_hosts(guest, "ready")}
    for group in (guest.get("ready_after") or {}).get("preparations") or []:
        for host in group.get("hosts") or []:
            cells[host] = ("ready_after", list(group.get("codes") or []))
    for near in (guest.get("blocked") or {}).get("nearest") or []:
        cells[near["host"]] = ("blocked", list(near.get("blockers") or {}))
    complete = all(len(listed_hosts(guest, v)) == int((guest.get(v) or {}).get("count") or 0) for v in ("ready", "ready_after"))
    return cells, complete


# ------------------------------------------------------------------------------------- JSON


def render_json(document: Mapping[str, Any]) -> str:
    """Return readiness.json text: sorted keys, two-space indent, newline-terminated (stable for idempotence)."""
    return json_text(document)


# --------------------------------------------------------------------------------- Markdown


def _list(items: Iterable[Any]) -> str:
    items = [str(i) for i in items]
    return ", ".join(items) if items else "—"


def render_markdown(document: Mapping[str, Any]) -> str:
    """Return readiness.md: the summary a person pastes into a change ticket."""
    plan, summary = document["plan"], document["summary"]
    lines = [f"# {md_text(document['title'])}", ""]
    lines += [
        md_paragraph(
            f"{summary['guests']} vfio-ap guests on {len(plan.get('sources') or [])} hosts, "
            f"{len(plan.get('destinations') or [])} destinations considered (rules: {plan.get('rules')})."
        ),
        "",
    ]
    lines += md_table(
        ["verdict", "guests"],
        [
            ["ready (a destination is ready now)", summary["ready"]],
            ["ready after preparation (run prepare_destination)", summary["ready_after"]],
            ["blocked (no destination)", summary["blocked"]],
        ],
        "lr",
    )
    lines.append("")
    if document["not_audited"]:
        lines += [f"**Not audited (no vfio_ap facts):** {md_text(_list(document['not_audited']))}", ""]
    problems = audit_problems(plan, document["not_audited"])
    if problems:
        lines += [md_paragraph(f"Not fully audited: {_list(problems)}. {NOT_FULLY_AUDITED}"), ""]
        lines += ["## Hosts not fully audited", ""]
        lines += md_table(
            ["host", "what could not be seen", "fix"], [[host, detail, fix] for host, items in problems.items() for detail, fix in items]
        )
        lines.append("")
    lines += ["## Evacuation per host", ""]
    lines += md_table(
        ["host", "machine", "guests", "ready", "after preparation", "blocked", "verdict", "flags"],
        [
            [
                host,
                item.get("machine") or "—",
                item.get("guests", 0),
                item.get("ready", 0),
                item.get("ready_after", 0),
                item.get("blocked", 0),
                item.get("verdict") or "",
                "; ".join(host_flags(item)) or "—",
            ]
            for host, item in sorted((plan["summary"].get("hosts") or {}).items())
        ],
        "llrrrrll",
    )
    lines.append("")
    stranded = stranded_guests(plan)
    if stranded:
        lines += ["## Guests without a destination", ""]
        for guest in stranded:
            lines += _md_blocked(guest)
    warnings = warnings_by_code(running_guests(plan), guest_label)
    if warnings:
        lines += ["## Warnings", "", "Warnings never block a migration; each says what may go wrong afterwards.", ""]
        lines += md_table(
            ["warning", "guests", "what to do"],
            [[md_code(w["code"]), _where_text(w["guests"]), Raw(w["remedy"])] for w in warnings],
        )
        lines.append("")
    if summary["top_blockers"]:
        lines += ["## Most common blockers of the blocked guests", ""]
        lines += md_table(["code", "guests"], [[md_code(item["code"]), item["guests"]] for item in summary["top_blockers"]], "lr")
        lines.append("")
    lines += ["## Guests", ""]
    lines += md_table(
        ["guest", "source", "verdict", "ready on", "ready after preparation on", "suggested"],
        [
            [
                guest_label(guest),
                guest.get("source"),
                _VERDICT_TEXT.get(str(guest.get("verdict")), guest.get("verdict")),
                _more(guest, "ready"),
                _more(guest, "ready_after"),
                guest.get("suggested") or "—",
            ]
            for guest in running_guests(plan)
        ],
    )
    idle = idle_mdevs(plan)
    if idle:
        lines += [
            "",
            md_paragraph("Idle mdevs (no guest, need not move): " + ", ".join(f"{g['uuid']} on {g.get('source')}" for g in idle) + "."),
        ]
    commands = [g for g in plan["guests"] if g.get("command")]
    if commands:
        lines += ["", "## Migration commands (suggested destinations)", ""]
        lines += md_code_block([g["command"] for g in commands], "sh")
    lines += ["", "Reason codes and remedies: docs/reason-codes.md of the s390x.vfio_ap collection.", ""]
    return "\n".join(lines)


def _where_text(rows: Iterable[Mapping[str, str]]) -> str:
    """Return "guest (where: detail), ..." for the rows of one warning."""
    return ", ".join(f"{r['label']} ({r['where']}{': ' + r['detail'] if r['detail'] else ''})" for r in rows)


def stranded_guests(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the planned guests (not idle) that have no destination, in plan order."""
    return [g for g in running_guests(plan) if g.get("verdict") == "blocked"]


def _apqns_text(apqns: Iterable[str]) -> str:
    apqns = list(apqns)
    return f" ({_list(apqns[:4])}{', ...' if len(apqns) > 4 else ''})" if apqns else ""


def _md_blocked(guest: Mapping[str, Any]) -> list[str]:
    """Return the Markdown of one guest without a destination: what blocks where, and what to do."""
    advice = blocked_advice(guest)
    where = [f"mdev {md_code(guest['uuid'])}"]
    if guest.get("apqns"):
        where.append("APQNs " + md_text(_list(guest["apqns"])))
    if guest.get("control_domains"):
        where.append("control domains " + md_text(_list(f"{d:04x}" for d in guest["control_domains"])))
    lines = [f"### {md_text(guest_label(guest))} on {md_text(guest.get('source'))}", "", " · ".join(where), ""]
    for item in advice["source"]:
        lines.append(f"- on the source: {md_code(item['code'])}: {md_text(item['detail'])}")
    for near in advice["nearest"]:
        blocking = ", ".join(md_code(b["code"]) + md_text(_apqns_text(b["apqns"])) for b in near["blocking"])
        text = f"- nearest: {md_text(near['host'])}: " + (blocking or "only the source's blockers")
        if near["preparation"]:
            text += "; preparation (prepare_destination) would fix " + ", ".join(md_code(c) for c in near["preparation"])
        lines.append(text)
    if not advice["source"] and not advice["nearest"]:
        lines.append("- no other host was considered as a destination")
    if advice["remedies"]:
        lines += ["", "What to do:", ""]
        lines += [f"- {md_code(r['code'])}: {r['remedy']}" for r in advice["remedies"]]
    lines.append("")
    return lines


# ------------------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.counts td{text-align:right;min-width:4em}
.matrix{font-size:12px}
.matrix th.host{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
.matrix td.cell{text-align:center;min-width:1.6em;cursor:help}
.ready{background:#2e7d32;color:#fff}
.ready_after{background:#f9a825;color:#000}
.blocked{background:#c62828;color:#fff}
.source{background:#e0e0e0;color:#555}
.na{background:#fafafa;color:#aaa}
.not_audited{background:#4a148c;color:#fff}
.v-ready{color:#1b5e20;font-weight:600}.v-ready_after{color:#8d6e00;font-weight:600}.v-blocked{color:#b71c1c;font-weight:600}
.legend span{display:inline-block;padding:.1em .6em;margin-right:.6em}
code{font-size:.95em}
thead th{position:sticky;top:0;z-index:1}
#evacuation th{white-space:nowrap}
.matrix thead th{background:#f3f3f3}
.filter label{margin:0 1em 0 .2em;cursor:pointer}
#show-blocked:checked~#matrix tbody tr:not([data-verdict=blocked]),
#show-ready_after:checked~#matrix tbody tr:not([data-verdict=ready_after]),
#show-ready:checked~#matrix tbody tr:not([data-verdict=ready]){display:none}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
.advice{border-left:4px solid #c62828;padding:.1em .8em;margin:.6em 0}
.advice h3{font-size:1.05em;margin:.3em 0}
"""
_CELL_MARK = {"ready": "\u2713", "ready_after": "P", "blocked": "\u2717"}


def _e(text: Any) -> str:
    return html_attr(text)


def render_html(document: Mapping[str, Any]) -> str:
    """Return readiness.html: one self-contained page (inline CSS, no scripts or external assets)."""
    plan, summary = document["plan"], document["summary"]
    destinations = list(plan.get("destinations") or [])
    out = [
        f"<h1>{_e(document['title'])}</h1>",
        '<table class="counts" id="summary"><tbody>',
        f'<tr><th>guests</th><td data-count="guests">{summary["guests"]}</td></tr>',
        f'<tr><th class="v-ready">ready</th><td data-count="ready">{summary["ready"]}</td></tr>',
        f'<tr><th class="v-ready_after">ready after preparation</th><td data-count="ready_after">{summary["ready_after"]}</td></tr>',
        f'<tr><th class="v-blocked">blocked</th><td data-count="blocked">{summary["blocked"]}</td></tr>',
        f'<tr><th>hosts</th><td data-count="hosts">{summary["hosts"]}</td></tr>',
        "</tbody></table>",
    ]
    if document["not_audited"]:
        out.append(f'<p id="not-audited"><strong>Not audited (no vfio_ap facts):</strong> {_e(_list(document["not_audited"]))}</p>')
    problems = audit_problems(plan, document["not_audited"])
    if problems:
        out += ["<h2>Hosts not fully audited</h2>", f"<p>{_e(NOT_FULLY_AUDITED)}</p>"]
        out += html_table(
            ["host", "what could not be seen", "fix"],
            [Row([Cell(host, "th"), detail, fix], {"data-host": host}) for host, items in problems.items() for detail, fix in items],
            {"id": "not-fully-audited"},
        )

    out += [
        "<h2>Evacuation per host</h2>",
        '<table id="evacuation"><thead><tr><th>host</th><th>machine</th><th>guests</th>'
        "<th>ready</th><th>after preparation</th><th>blocked</th><th>verdict</th><th>flags</th></tr></thead><tbody>",
    ]
    for host, item in sorted((plan["summary"].get("hosts") or {}).items()):
        verdict = "ready" if item.get("evacuable") else "ready_after" if item.get("evacuable_after_preparation") else "blocked"
        verdict = "not_audited" if item.get("audited") is False else verdict
        out.append(
            f'<tr data-host="{_e(host)}" data-evacuation="{verdict}"><th>{_e(host)}</th><td>{_e(item.get("machine") or "")}</td>'
            f"<td>{item.get('guests', 0)}</td>"
            f"<td>{item.get('ready', 0)}</td><td>{item.get('ready_after', 0)}</td><td>{item.get('blocked', 0)}</td>"
            f'<td class="{verdict}">{_e(item.get("verdict") or "")}</td><td>{_e("; ".join(host_flags(item)))}</td></tr>'
        )
    out.append("</tbody></table>")

    out += [
        "<h2>Guests \u00d7 destination hosts</h2>",
        '<p class="legend"><span class="ready">\u2713 ready</span><span class="ready_after">P ready after preparation</span>'
        '<span class="blocked">\u2717 blocked</span><span class="source">S source</span>'
        " Hover a cell for its reason codes.</p>",
        '<div class="filter">Show: ',
        *[
            f'<input type="radio" name="verdict" id="show-{v}"{" checked" if v == "all" else ""}><label for="show-{v}">{t}</label>'
            for v, t in (("all", "all guests"), ("blocked", "blocked"), ("ready_after", "ready after preparation"), ("ready", "ready"))
        ],
        '<table class="matrix" id="matrix"><thead><tr><th>guest</th><th>source</th><th>verdict</th>',
    ]
    out += [f'<th class="host" data-host="{_e(h)}">{_e(h)}</th>' for h in destinations]
    out.append("</tr></thead><tbody>")
    for guest in running_guests(plan):
        cells, complete = _cells(guest)
        label = guest_label(guest)
        out.append(
            f'<tr data-uuid="{_e(guest["uuid"])}" data-guest="{_e(guest.get("guest") or "")}" data-verdict="{_e(guest.get("verdict"))}">'
            f'<th title="{_e(guest["uuid"])}">{_e(label)}</th><td>{_e(guest.get("source"))}</td>'
            f'<td class="v-{_e(guest.get("verdict"))}">{_e(_VERDICT_TEXT.get(str(guest.get("verdict")), guest.get("verdict")))}</td>'
        )
        for host in destinations:
            if host == guest.get("source"):
                out.append(f'<td class="cell source" data-host="{_e(host)}" data-verdict="source" title="source host">S</td>')
                continue
            if host not in cells:
                if complete:
                    out.append(
                        f'<td class="cell blocked" data-host="{_e(host)}" data-verdict="blocked" data-codes="" '
                        f'title="blocked (reasons counted in readiness.json)">{_CELL_MARK["blocked"]}</td>'
                    )
                else:
                    out.append(f'<td class="cell na" data-host="{_e(host)}" data-verdict="none" title="not listed (plan limit)"></td>')
                continue
            verdict, codes = cells[host]
            title = _cell_title(guest, host, verdict, codes)
            out.append(
                f'<td class="cell {verdict}" data-host="{_e(host)}" data-verdict="{verdict}" '
                f'data-codes="{_e(" ".join(codes))}" title="{_e(title)}">{_CELL_MARK[verdict]}</td>'
            )
        out.append("</tr>")
    out.append("</tbody></table></div>")

    stranded = stranded_guests(plan)
    if stranded:
        out.append('<h2>Guests without a destination</h2><div id="stranded">')
        by_source: dict[str, list[Mapping[str, Any]]] = {}
        for guest in stranded:
            by_source.setdefault(str(guest.get("source")), []).append(guest)
        for source, guests in sorted(by_source.items()):
            out.append(f'<details open data-host="{_e(source)}"><summary>{_e(source)}: {len(guests)} without a destination</summary>')
            out += [_html_blocked(guest) for guest in guests]
            out.append("</details>")
        out.append("</div>")
    warnings = warnings_by_code(running_guests(plan), guest_label)
    if warnings:
        out.append("<h2>Warnings</h2><p>Warnings never block a migration; each says what may go wrong afterwards.</p>")
        out += html_table(
            ["warning", "guests", "what to do"],
            [
                Row(
                    [Raw(f"<code>{_e(w['code'])}</code>"), _where_text(w["guests"]), Raw(_html_remedy(w["remedy"]))],
                    {"data-code": w["code"]},
                )
                for w in warnings
            ],
            {"id": "warnings"},
        )
    idle = idle_mdevs(plan)
    if idle:
        out.append('<h2>Idle mdevs (no guest, need not move)</h2><ul id="idle">')
        out += [f"<li><code>{_e(g['uuid'])}</code> on {_e(g.get('source'))}</li>" for g in idle]
        out.append("</ul>")
    commands = [g for g in plan["guests"] if g.get("command")]
    if commands:
        out.append("<h2>Migration commands (suggested destinations)</h2><pre>")
        out += [_e(g["command"]) for g in commands]
        out.append("</pre>")
    out.append(f"<p>Rules: {_e(plan.get('rules'))}. Reason codes and remedies: docs/reason-codes.md of the s390x.vfio_ap collection.</p>")
    return html_page(document["title"], out, _CSS)


def _html_remedy(text: str) -> str:
    """Return a remedy of the rule table as HTML: its backtick spans as code, the rest escaped."""
    parts = text.split("`")
    return "".join(f"<code>{_e(part)}</code>" if i % 2 else _e(part) for i, part in enumerate(parts))


def _html_blocked(guest: Mapping[str, Any]) -> str:
    """Return the HTML of one guest without a destination: what blocks where, and what to do."""
    advice = blocked_advice(guest)
    items = [f"<li>on the source: <code>{_e(i['code'])}</code>: {_e(i['detail'])}</li>" for i in advice["source"]]
    for near in advice["nearest"]:
        blocking = ", ".join(f"<code>{_e(b['code'])}</code>{_e(_apqns_text(b['apqns']))}" for b in near["blocking"])
        text = f"<li>nearest: {_e(near['host'])}: {blocking or 'only the source&#39;s blockers'}"
        if near["preparation"]:
            text += "; preparation (prepare_destination) would fix " + ", ".join(f"<code>{_e(c)}</code>" for c in near["preparation"])
        items.append(text + "</li>")
    remedies = "".join(f"<li><code>{_e(r['code'])}</code>: {_html_remedy(r['remedy'])}</li>" for r in advice["remedies"])
    return (
        f'<div class="advice" data-uuid="{_e(guest["uuid"])}"><h3>{_e(guest_label(guest))}</h3>'
        f"<p>mdev <code>{_e(guest['uuid'])}</code>; APQNs {_e(_list(guest.get('apqns') or []) or '—')}</p>"
        f"<ul>{''.join(items)}</ul>" + (f"<p>What to do:</p><ul>{remedies}</ul>" if remedies else "") + "</div>"
    )


def _cell_title(guest: Mapping[str, Any], host: str, verdict: str, codes: list[str]) -> str:
    """Return a matrix cell's tooltip: the verdict, each code with the APQNs it names, and the remedies of the unfixable ones."""
    if verdict == "ready":
        return "ready"
    named: dict[str, list[str]] = {}
    for near in (guest.get("blocked") or {}).get("nearest") or []:
        if near.get("host") == host:
            named = {str(c): list(a or []) for c, a in (near.get("blockers") or {}).items()}
    parts = [f"{c}{_apqns_text(named.get(c) or [])}" for c in codes]
    head = ("ready after preparation: fixes " if verdict == "ready_after" else "blocked: ") + ", ".join(parts)
    remedies = [f"{c}: {remedy(c).replace('`', '')}" for c in codes if verdict == "blocked" and c not in FIXABLE_CODES]
    return " \u2014 ".join([head, *remedies])


# ------------------------------------------------------------------------------------ JUnit


def render_junit(document: Mapping[str, Any]) -> str:
    """Return readiness.xml (JUnit): a suite per source host, a case per guest, failed without a ready destination."""
    plan = document["plan"]
    by_source: dict[str, list[Mapping[str, Any]]] = {}
    for guest in running_guests(plan):
        by_source.setdefault(str(guest.get("source")), []).append(guest)
    suites = []
    for source in sorted(by_source):
        cases = []
        for guest in by_source[source]:
            reasons = (guest.get("blocked") or {}).get("reasons") or {}
            detail = "\n".join(f"{code}: {n} destination(s)" for code, n in sorted(reasons.items()))
            for item in guest.get("source_blockers") or []:
                detail += f"\nsource: {item.get('code')}: {item.get('detail') or ''}"
            failure = output = None
            if guest.get("verdict") == "ready_after":
                message = f"no destination is ready; ready after preparation on {_more(guest, 'ready_after')} (run prepare_destination)"
                failure = ("ready_after", message, detail.strip())
            elif guest.get("verdict") != "ready":
                codes = sorted(reasons) + [b.get("code") for b in guest.get("source_blockers") or []]
                failure = (
                    "blocked",
                    f"no destination: {', '.join(map(str, dict.fromkeys(codes))) or 'no other host audited'}",
                    detail.strip(),
                )
            else:
                output = "ready on " + _more(guest, "ready")
            name = f"{guest['guest']} ({guest['uuid']})" if guest.get("guest") else f"mdev {guest['uuid']}"
            cases.append(Case(f"vfio_ap.{source}", name, None, failure, None, output))
        suites.append(Suite(f"vfio_ap migration from {source}", cases))
    return junit(str(document["title"]), [_coverage_suite(document), *suites])


def _coverage_suite(document: Mapping[str, Any]) -> Suite:
    """Return the audit-coverage suite: a case per host, failed when it was not (fully) audited."""
    plan = document["plan"]
    problems = audit_problems(plan, document["not_audited"])
    cases = []
    for host in sorted(set(plan.get("sources") or []) | set(plan.get("destinations") or []) | set(problems)):
        failure = None
        if host in problems:
            kind = "not_audited" if (NO_FACTS, NO_FACTS_FIX) in problems[host] else "not_fully_audited"
            detail = "\n".join(f"{what}: {fix}" for what, fix in problems[host])
            failure = (kind, f"{host} is not fully audited: {problems[host][0][0]}: {problems[host][0][1]}", detail)
        cases.append(Case("vfio_ap.audit", f"{host} fully audited", None, failure))
    return Suite("vfio_ap audit coverage", cases)


_RENDERERS = {"json": render_json, "markdown": render_markdown, "html": render_html, "junit": render_junit}


def readiness_report(plan: Mapping[str, Any], formats: Iterable[str], title: str, not_audited: Iterable[str] = ()) -> dict[str, str]:
    """Return {file name: text} of the requested report formats (json, markdown, html, junit)."""
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"readiness report: unknown format {unknown[0]!r} (choose from {', '.join(FORMATS)})")
    document = report_document(plan, title, not_audited)
    return {FORMATS[f]: _RENDERERS[f](document) for f in formats}
