# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The shape of a migration plan (schema 2) as its consumers read it, checked at their door.

The reports and the evacuation read plans from a fact, a file or a previous job's artifact; a plan
of another schema or a damaged one gives one message naming the guest entry and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCHEMA = 2
VERDICTS = ("ready", "ready_after", "blocked")


def _bad(what: str, path: str, expected: str, value: Any) -> ValueError:
    shown = repr(value)
    return ValueError(f"{what}: {path}: expected {expected}, got {shown[:57] + '...' if len(shown) > 60 else shown}")


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def is_idle(guest: Mapping[str, Any]) -> bool:
    """Return whether a plan entry is an idle mdev (no guest uses it, by complete facts), which need not leave.

    Plans without ``idle`` (before the facts said what they could not read) take an entry without a guest as idle.
    """
    if "idle" in guest:
        return guest["idle"] is True
    return not guest.get("guest")


def not_audited_sources(plan: Mapping[str, Any]) -> dict[str, str]:
    """Return {source host: verdict} of the plan's source hosts that are not fully audited (``summary.hosts[h].audited``)."""
    hosts = (plan.get("summary") or {}).get("hosts") or {}
    return {name: str(item.get("verdict")) for name, item in sorted(hosts.items()) if item.get("audited") is False}


def listed_hosts(guest: Mapping[str, Any], verdict: str) -> list[str]:
    """Return the destinations a plan entry lists as ``ready`` or ``ready_after`` (the latter from its preparations)."""
    part = guest.get(verdict) or {}
    if verdict == "ready_after":
        return sorted(host for group in part.get("preparations") or [] for host in group.get("hosts") or [])
    return list(part.get("hosts") or [])


def require_plan(plan: Any, what: str) -> Mapping[str, Any]:
    """Return ``plan`` when it is a migration_plan result of schema 2 that consumers can read; ValueError otherwise."""
    if not isinstance(plan, Mapping) or not isinstance(plan.get("guests"), list) or not isinstance(plan.get("summary"), Mapping):
        raise ValueError(f"{what}: expected a migration_plan result (a dict with 'guests' and 'summary')")
    if plan.get("schema") != SCHEMA:
        raise ValueError(f"{what}: plan schema {plan.get('schema')!r} is not supported (expected {SCHEMA}); re-run migration_plan")
    for key in ("sources", "destinations"):
        if not _names(plan.get(key)):
            raise _bad(what, key, "a list of host names", plan.get(key))
    for i, guest in enumerate(plan["guests"]):
        path = f"guests[{i}]"
        if not isinstance(guest, Mapping):
            raise _bad(what, path, "a dict", guest)
        for key in ("uuid", "source"):
            if not isinstance(guest.get(key), str):
                raise _bad(what, f"{path}.{key}", "text", guest.get(key))
        if guest.get("guest") is not None and not isinstance(guest.get("guest"), str):
            raise _bad(what, f"{path}.guest", "a guest name or null", guest.get("guest"))
        if "idle" in guest and not isinstance(guest["idle"], bool):
            raise _bad(what, f"{path}.idle", "true or false", guest["idle"])
        if guest.get("verdict") not in VERDICTS:
            raise _bad(what, f"{path}.verdict", "ready, ready_after or blocked", guest.get("verdict"))
        for key in VERDICTS:
            part = guest.get(key)
            if not isinstance(part, Mapping) or not isinstance(part.get("count"), int):
                raise _bad(what, f"{path}.{key}", "a dict with a 'count'", part)
        if not _names(guest["ready"].get("hosts")):
            raise _bad(what, f"{path}.ready.hosts", "a list of host names", guest["ready"].get("hosts"))
        groups = guest["ready_after"].get("preparations")
        if not isinstance(groups, list) or not all(
            isinstance(g, Mapping) and _names(g.get("hosts")) and _names(g.get("codes")) for g in groups
        ):
            raise _bad(what, f"{path}.ready_after.preparations", "a list of {hosts, codes, actions}", groups)
        nearest = guest["blocked"].get("nearest")
        if not isinstance(nearest, list) or not all(
            isinstance(n, Mapping) and isinstance(n.get("host"), str) and isinstance(n.get("blockers"), Mapping) for n in nearest
        ):
            raise _bad(what, f"{path}.blocked.nearest", "a list of {host, blockers}", nearest)
        for j, near in enumerate(nearest):
            for code, apqns in near["blockers"].items():
                if not isinstance(code, str) or not _names(apqns):
                    raise _bad(what, f"{path}.blocked.nearest[{j}].blockers[{code!r}]", "a list of APQNs", apqns)
        if not isinstance(guest["blocked"].get("reasons"), Mapping):
            raise _bad(what, f"{path}.blocked.reasons", "a dict {code: count}", guest["blocked"].get("reasons"))
        for key in ("source_blockers", "source_warnings"):
            items = guest.get(key)
            if not isinstance(items, list) or not all(isinstance(b, Mapping) and isinstance(b.get("code"), str) for b in items):
                raise _bad(what, f"{path}.{key}", "a list of {code, apqn, detail}", items)
        if not _names(guest.get("apqns")):
            raise _bad(what, f"{path}.apqns", "a list of APQNs", guest.get("apqns"))
        counts = guest.get("warnings", {})
        if not isinstance(counts, Mapping) or not all(
            isinstance(c, str) and isinstance(n, int) and not isinstance(n, bool) for c, n in counts.items()
        ):
            raise _bad(what, f"{path}.warnings", "a dict {code: count}", counts)
        domains = guest.get("control_domains")
        if domains is not None and not (
            isinstance(domains, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in domains)
        ):
            raise _bad(what, f"{path}.control_domains", "a list of domain numbers or null", domains)
    gaps = plan.get("facts_gaps", {})
    if not isinstance(gaps, Mapping) or not all(
        isinstance(items, list) and all(isinstance(g, Mapping) and isinstance(g.get("detail"), str) for g in items)
        for items in gaps.values()
    ):
        raise _bad(what, "facts_gaps", "a dict {host: [{what, path, errno, detail, fix}]}", gaps)
    _require_summary(plan["summary"], what)
    return plan


def _require_summary(summary: Mapping[str, Any], what: str) -> None:
    for key in ("guests", "idle_mdevs", "ready", "ready_after", "blocked"):
        if not isinstance(summary.get(key), int) or isinstance(summary.get(key), bool):
            raise _bad(what, f"summary.{key}", "a number", summary.get(key))
    top = summary.get("top_blockers")
    if not isinstance(top, list) or not all(
        isinstance(t, Mapping) and isinstance(t.get("code"), str) and isinstance(t.get("guests"), int) for t in top
    ):
        raise _bad(what, "summary.top_blockers", "a list of {code, guests}", top)
    stranded = summary.get("stranded")
    if not isinstance(stranded, list) or not all(
        isinstance(s, Mapping) and isinstance(s.get("uuid"), str) and _names(s.get("top_blockers")) for s in stranded
    ):
        raise _bad(what, "summary.stranded", "a list of {uuid, guest, source, top_blockers}", stranded)
    hosts = summary.get("hosts")
    if not isinstance(hosts, Mapping):
        raise _bad(what, "summary.hosts", "a dict {host: evacuation verdict}", hosts)
    for name, item in hosts.items():
        if not isinstance(item, Mapping) or not all(isinstance(item.get(k), int) for k in ("guests", "ready", "ready_after", "blocked")):
            raise _bad(what, f"summary.hosts[{name!r}]", "a dict with guests, ready, ready_after and blocked counts", item)
        if not isinstance(item.get("verdict"), str):
            raise _bad(what, f"summary.hosts[{name!r}].verdict", "text", item.get("verdict"))
