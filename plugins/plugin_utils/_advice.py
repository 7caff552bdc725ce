# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""What a report tells a person to do: for a guest without a destination, where it came closest and why
not, and the remedies; for a guest with warnings, each warning and what to do about it.

Pure functions over one guest entry of a migration plan (plan schema 2); the texts of the remedies are
the rule table's (``_reason_codes``). The report files render the data in their formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import BY_CODE, FIXABLE_CODES, ORDER

NEAREST_SHOWN = 3  # blocked destinations a report names per guest (the plan keeps up to its ``nearest``)


def remedy(code: str) -> str:
    """Return the rule table's remedy of a reason code (Markdown code spans in backticks), or "" for an unknown code."""
    entry = BY_CODE.get(code)
    return entry.remedy if entry is not None else ""


def _codes(blockers: Mapping[str, Any]) -> list[str]:
    return sorted((str(c) for c in blockers), key=lambda c: ORDER.get(c, 99))


def blocked_advice(guest: Mapping[str, Any]) -> dict[str, Any]:
    """Return why a planned guest has no destination and what to do.

    ``{source: [{code, detail}], nearest: [{host, blocking: [{code, apqns}], preparation: [codes]}],
    remedies: [{code, remedy}]}``: the source's own blockers (they hold for every destination);
    the nearest blocked destinations (fewest blockers first, as the plan ranks them), each with what
    blocks there (unfixable codes and the APQNs they name) and what the destination role would fix;
    the remedies of the unfixable codes of the source and of the nearest destination, each once.
    """
    source = [
        {"code": str(b.get("code")), "detail": str(b.get("detail") or "")}
        for b in guest.get("source_blockers") or []
        if isinstance(b, Mapping)
    ]
    nearest: list[dict[str, Any]] = []
    for near in ((guest.get("blocked") or {}).get("nearest") or [])[:NEAREST_SHOWN]:
        if not isinstance(near, Mapping):
            continue
        blockers = near.get("blockers") or {}
        codes = _codes(blockers)
        source_codes = {item["code"] for item in source}
        nearest.append(
            {
                "host": str(near.get("host")),
                "blocking": [
                    {"code": c, "apqns": [str(a) for a in blockers.get(c) or []]}
                    for c in codes
                    if c not in FIXABLE_CODES and c not in source_codes
                ],
                "preparation": [c for c in codes if c in FIXABLE_CODES],
            }
        )
    shown = [item["code"] for item in source] + [b["code"] for b in (nearest[0]["blocking"] if nearest else [])]
    remedies = [{"code": c, "remedy": remedy(c)} for c in dict.fromkeys(shown) if c not in FIXABLE_CODES]
    return {"source": source, "nearest": nearest, "remedies": remedies}


def warning_rows(guest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the warnings of a planned guest: [{code, where, detail, remedy}].

    The source's warnings with their detail (``where`` "source"), then the warnings of the destinations
    that are ready or ready after preparation, by how many of them have it (``where`` "N destinations").
    """
    rows = [
        {
            "code": str(w.get("code")),
            "where": "source",
            "detail": str(w.get("detail") or "").removeprefix("source: "),
            "remedy": remedy(str(w.get("code"))),
        }
        for w in guest.get("source_warnings") or []
        if isinstance(w, Mapping)
    ]
    counts = guest.get("warnings") or {}
    for code in _codes(counts):
        n = counts[code]
        rows.append({"code": code, "where": f"{n} destination{'s' if n != 1 else ''}", "detail": "", "remedy": remedy(code)})
    return rows


def host_flags(item: Mapping[str, Any]) -> list[str]:
    """Return the flags of a host in the plan summary: not fully audited, no migration support, no vfio-ap guests."""
    flags = []
    if item.get("audited") is False:
        flags.append("not fully audited")
    if item.get("migration_support"):
        flags.append(f"no migration support: {item['migration_support']}")
    elif item.get("migration") == "series":
        flags.append("migration interface unknown (no mdev yet): both rule sets checked")
    if not item.get("guests"):
        flags.append("no vfio-ap guests")
    return flags


def warnings_by_code(guests: list[Mapping[str, Any]], label: Any) -> list[dict[str, Any]]:
    """Return the warnings of planned guests grouped by code, in the rule table's order: [{code, guests, remedy}].

    ``guests`` items are ``{label, where, detail}``, one per guest (``label(guest)`` names it; ``where``
    joins "source" and "N destinations"); a detail that several guests share says nothing about one
    guest and is left out.
    """
    by_code: dict[str, dict[str, dict[str, list[str]]]] = {}
    for guest in guests:
        for row in warning_rows(guest):
            item = by_code.setdefault(row["code"], {}).setdefault(str(label(guest)), {"where": [], "details": []})
            item["where"].append(row["where"])
            if row["detail"]:
                item["details"].append(row["detail"])
    out = []
    for code in sorted(by_code, key=lambda c: ORDER.get(c, 99)):
        items = by_code[code]
        seen: dict[str, int] = {}
        for item in items.values():
            for detail in item["details"]:
                seen[detail] = seen.get(detail, 0) + 1
        rows = [
            {"label": name, "where": ", ".join(item["where"]), "detail": "; ".join(d for d in item["details"] if seen[d] == 1)}
            for name, item in items.items()
        ]
        out.append({"code": code, "guests": rows, "remedy": remedy(code)})
    return out


def nearest_text(guest: Mapping[str, Any]) -> str:
    """Return where a planned guest without a destination came closest, in one line, or "" when nothing is known.

    ``the source: code, ...`` when the source's own blockers hold it everywhere, else ``nearest HOST:
    code APQN, APQN; code`` (what no preparation fixes on the nearest blocked destination).
    """
    advice = blocked_advice(guest)
    if advice["source"]:
        return "the source: " + ", ".join(dict.fromkeys(item["code"] for item in advice["source"]))
    for near in advice["nearest"]:
        blocking = "; ".join(" ".join([b["code"], ", ".join(b["apqns"])]).strip() for b in near["blocking"])
        if blocking:
            return f"nearest {near['host']}: {blocking}"
    return ""
