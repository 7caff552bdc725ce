# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""Whether a verdict may be drawn from a host's facts: the gaps that make a host "not fully audited".

A host's facts record what could not be read (``complete``, ``unread``: docs/facts.md). A verdict
drawn from facts with a hole in them is a guess: a guest nobody was allowed to see is not a guest
that does not exist. ``host_gaps`` returns the holes a verdict about the host depends on, each with
the fix; the readiness rules (``facts_rules``) turn them into the blockers
``source_facts_incomplete`` and ``destination_facts_incomplete``, and the plan reports such a host
as not fully audited. Facts that do not say what they could not read (schema 1, gathered by
collection 0.1.0, or built by hand) are not known to be complete and count as a gap too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Subsets a verdict needs (mkvps may be left out: master keys then give mkvp_unknown warnings).
NEEDED_SUBSETS = ("bus", "cards", "definitions", "guests", "mdevs", "queues")
# Kinds the readiness rules judge per queue: a hardware word that cannot be queried, unknown master keys.
JUDGED_PER_QUEUE = frozenset(("queue_functions", "mkvps"))

BECOME = "run with become: true"
GATHER_AGAIN = "gather the facts again with this version of s390x.vfio_ap (s390x.vfio_ap.ap_facts)"
_FIX_BY_ERRNO = {
    "EACCES": BECOME,
    "EPERM": BECOME,
    "ENOENT": "the device changed while it was read: gather the facts again",
    "ENODEV": "the device changed while it was read: gather the facts again",
}
_FIX_BY_KIND_PARSE = {
    "libvirt_status": "fix or remove the malformed libvirt domain XML",
    "libvirt_config": "fix or remove the malformed libvirt domain XML",
    "definitions": "fix or remove the malformed mdevctl definition",
    "guard": "fix or remove the malformed migration guard (s390x.vfio_ap.migratable writes a valid one)",
}
_FIX_OTHER = "the kernel refused the read: look at the host's kernel log, then gather the facts again"
_FIX_VALUE = "a value the collection does not understand: gather the facts again; report it if it stays"


def gap(what: str, path: str | None, errno: str | None, detail: str, fix: str) -> dict[str, Any]:
    """Return one gap: {what, path, errno, detail, fix}."""
    return {"what": what, "path": path, "errno": errno, "detail": detail, "fix": fix}


def _part(facts: Mapping, key: str) -> Mapping:
    value = facts.get(key)
    return value if isinstance(value, Mapping) else {}


def _of_record(record: Mapping) -> dict[str, Any] | None:
    """Return the gap of one ``unread`` record, or None for a kind the rules judge per queue."""
    what = str(record.get("what") or "unknown")
    if what in JUDGED_PER_QUEUE:
        return None
    path, code, error = record.get("path"), record.get("errno"), record.get("error")
    if code:
        detail = f"could not read {path} ({code})"
        fix = _FIX_BY_ERRNO.get(str(code), _FIX_OTHER)
    else:
        detail = f"could not parse {path}" + (f": {error}" if error else "")
        fix = _FIX_BY_KIND_PARSE.get(what, _FIX_VALUE)
    return gap(what, None if path is None else str(path), None if code is None else str(code), detail, fix)


def host_gaps(facts: Mapping) -> list[dict[str, Any]]:
    """Return the gaps of a host's facts (checked by ``_facts_schema``) that a verdict about the host
    depends on, in the facts' order: [{what, path, errno, detail, fix}]; [] when a verdict may be drawn.
    """
    if facts.get("complete") is None or facts.get("unread") is None:
        return [
            gap(
                "facts",
                None,
                None,
                "the facts do not say what could not be read (gathered by s390x.vfio_ap 0.1.0, or built by hand)",
                GATHER_AGAIN,
            )
        ]
    found = []
    records = facts.get("unread")
    unread = [r for r in records if isinstance(r, Mapping)] if isinstance(records, list) else []
    for record in unread:
        item = _of_record(record)
        if item is not None:
            found.append(item)
    count = facts.get("unread_count")
    more = (count if isinstance(count, int) else len(unread)) - len(unread)
    if more > 0 and (not unread or unread[-1].get("what") not in JUDGED_PER_QUEUE):
        found.append(gap("unread", None, None, f"{more} more reads failed", "see the host's ap_facts warnings, then " + GATHER_AGAIN))
    elif facts.get("complete") is False and not unread:
        found.append(gap("unread", None, None, "the facts say a read failed but do not say which", GATHER_AGAIN))
    subsets = facts.get("gather_subset")
    if isinstance(subsets, list):
        missing = [s for s in NEEDED_SUBSETS if s not in subsets]
        if missing:
            found.append(
                gap(
                    "gather_subset",
                    None,
                    None,
                    f"the facts were gathered without {', '.join(missing)}",
                    "gather them with gather_subset: all (leaving out mkvps is fine)",
                )
            )
    bus = _part(facts, "bus")
    if bus.get("present") is False and not any(g["what"] == "bus" for g in found):
        sysroot = str(facts.get("sysroot") or "/")
        found.append(
            gap(
                "bus",
                sysroot.rstrip("/") + "/sys/bus/ap",
                None,
                f"no AP bus under {sysroot} (no sys/bus/ap)",
                "check vfio_ap_sysroot, or that this is an s390x KVM host with the AP bus (the ap module)",
            )
        )
    return found


def gap_text(item: Mapping) -> str:
    """Return one gap as a sentence: "<detail>: <fix>"."""
    return f"{item['detail']}: {item['fix']}"


def gaps_text(gaps: Iterable[Mapping], limit: int = 3) -> str:
    """Return the gaps in one line, those with the same fix together ("could not read A (EACCES), could
    not read B (EACCES): run with become: true"); at most ``limit`` details, then "+N more"."""
    items = list(gaps)
    by_fix: dict[str, list[str]] = {}
    for item in items[:limit]:
        by_fix.setdefault(str(item["fix"]), []).append(str(item["detail"]))
    text = "; ".join(f"{', '.join(details)}: {fix}" for fix, details in by_fix.items())
    if len(items) > limit:
        text += f"; +{len(items) - limit} more"
    return text


def incomplete_bits(hosts: Iterable[Any]) -> int:
    """Return the bitset of the hosts (``HostFacts``, in index order) whose facts have gaps."""
    bits = 0
    for i, host in enumerate(hosts):
        if host.gaps:
            bits |= 1 << i
    return bits


def facts_rules(ev: Any) -> None:
    """Mark the evaluation (``_readiness.Evaluation``): a source whose facts have gaps blocks every
    destination, a destination whose facts have gaps is blocked (nothing may be judged from them)."""
    if ev.source.gaps:
        ev.mark_source("source_facts_incomplete", None, f"{ev.source.label} not fully audited: {gaps_text(ev.source.gaps)}")
    hosts = ev.index.hosts
    ev.mark(
        "destination_facts_incomplete",
        ev.index.incomplete,
        None,
        lambda i: f"{hosts[i].label} not fully audited: {gaps_text(hosts[i].gaps)}",
    )
