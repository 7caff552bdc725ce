"""Facts of every host of a simulated fleet, gathered without Ansible (fixtures and benchmarks).

``facts_for_fleet(fleet, workdir)`` renders the fleet under ``workdir`` and returns
``{host: facts}`` where facts is what ``s390x.vfio_ap.ap_facts`` returns as
``ansible_facts.vfio_ap`` for that host (the same gatherer, called in-process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apsim.fleet import build_fleet, load_fleet
from apsim.render import render_fleet

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts


def facts_for_fleet(
    fleet: str | Path | dict[str, Any],
    workdir: str | Path,
    subsets: tuple[str, ...] = ("all",),
    with_warnings: bool = False,
) -> dict[str, Any]:
    """Render a fleet (a fleet file path or parsed fleet data) and gather each host's facts.

    Returns {host: facts}; with with_warnings, {host: (facts, warnings)}.
    """
    hosts = build_fleet(fleet) if isinstance(fleet, dict) else load_fleet(fleet)
    dest = Path(workdir)
    render_fleet(hosts, dest)
    out: dict[str, Any] = {}
    for name in sorted(hosts):
        facts, warnings = gather_facts(str(dest / name), subsets)
        out[name] = (facts, warnings) if with_warnings else facts
    return out


def as_schema_1(facts: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of schema-2 facts in the shape of schema 1: full queue records, no card capabilities.

    What a fact cache filled by collection 0.1.0 holds for the same host: nor does it say what could
    not be read (no ``complete``, ``unread``, ``unread_count``).
    """
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._queue_facts import expand_queue

    cards = {c["id"]: c for c in facts["cards"]}
    old = {k: v for k, v in facts.items() if k not in ("complete", "unread", "unread_count")}
    old["schema"] = 1
    old["queues"] = [expand_queue(q, cards.get(int(q["apqn"][:2], 16))) for q in facts["queues"]]
    old["cards"] = [{k: v for k, v in c.items() if k != "capabilities"} for c in facts["cards"]]
    return old


def queues_by_apqn(facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return {apqn: full queue record} of facts of either schema (what the ap_queues filter returns)."""
    return {q["apqn"]: q for q in as_schema_1(facts)["queues"]}
