# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The order of a drain's migrations: the guests of an evacuation plan in waves.

A wave is the guests that migrate at the same time; the drain runs the waves one after the other,
checking each wave's guests again just before it (``_just_in_time``). :func:`order_waves` keeps
the plan's order and the per-source and per-destination limits; :func:`resume_entries` brings
back the guests an earlier (perhaps interrupted) run of the same hosts was moving.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import is_uuid
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan_shape import listed_hosts

# The most guests an earlier run's report is read for.
RESUME_LIMIT = 10000


def _candidates(entry: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """Return (ready, ready_after) destinations a migration_plan entry lists, in the plan's order."""
    if entry is None:
        return [], []
    ready = listed_hosts(entry, "ready")
    return ready, sorted(set(listed_hosts(entry, "ready_after")) - set(ready))


def resume_entries(previous: Any, evacuation: Mapping[str, Any], limit: int = RESUME_LIMIT) -> list[dict[str, Any]]:
    """Return the guests of an earlier run's report (``previous``) that this run's plan does not list, as ``resume`` entries.

    ``previous``: the ``evacuation.json`` found in the report directory (its text, or the document; written at the start of a
    drain and at its end); it counts only when it is for the same hosts. Its guests may have left
    their host in that run (even one that was interrupted): each becomes ``{uuid, guest, source,
    destination, status: ready, apqns: [], resume: true}``, which the just-in-time check reports as
    ``moved`` (with the source-mdev policy applied) or ``skip``, and never migrates. Entries that
    are not well formed are left out; at most ``limit`` are read.
    """
    if isinstance(previous, str):
        try:
            previous = json.loads(previous) if previous.strip() else None
        except (ValueError, RecursionError):
            return []
    if not isinstance(previous, Mapping) or not isinstance(previous.get("guests"), list):
        return []
    hosts = [h for h in evacuation.get("hosts") or [] if isinstance(h, str)]
    if not isinstance(previous.get("hosts"), list) or sorted(map(str, previous["hosts"])) != sorted(hosts):
        return []
    planned = {g.get("uuid") for g in evacuation.get("guests") or [] if isinstance(g, Mapping)}
    out: dict[str, dict[str, Any]] = {}
    for g in previous["guests"][:limit]:
        if not isinstance(g, Mapping):
            continue
        uuid, source = g.get("uuid"), g.get("source")
        if not isinstance(uuid, str) or not is_uuid(uuid, any_case=True) or source not in hosts:
            continue
        if uuid.lower() in planned or uuid.lower() in out:
            continue
        destination = g.get("actual_destination") or g.get("destination")
        out[uuid.lower()] = {
            "uuid": uuid.lower(),
            "guest": g.get("guest") if isinstance(g.get("guest"), str) else None,
            "source": source,
            "destination": destination if isinstance(destination, str) else None,
            "status": "ready",
            "apqns": [],
            "resume": True,
        }
    return list(out.values())


def _held(entry: Mapping[str, Any], prepare: bool) -> str | None:
    """Return why an evacuation entry is not run (``skipped``, ``stranded``, ``needs_preparation``), or None."""
    if entry.get("status") == "skipped":
        return "skipped"
    if entry.get("destination") is None:
        return "stranded"
    if entry.get("status") == "prepare" and not prepare:
        return "needs_preparation"
    return None


def _resume_wave(resumed: list[dict[str, Any]], plan: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the first wave, of an earlier run's guests: it migrates nothing and looks at every host of ``plan``."""
    every = set((plan or {}).get("sources") or []) | set((plan or {}).get("destinations") or [])
    hosts = every | {e["source"] for e in resumed} | {e["destination"] for e in resumed if e["destination"]}
    guests = [{**e, "candidates": [e["destination"]] if e["destination"] else []} for e in resumed]
    return {"index": 1, "guests": guests, "hosts": sorted(hosts)}


def order_waves(
    evacuation: Mapping[str, Any], plan: Mapping[str, Any] | None, options: DrainOptions, previous: Any = None
) -> dict[str, Any]:
    """Return the order of execution: ``{waves, held, resumed, sources}``.

    ``waves``: lists of guests run at the same time, ``[{index, guests, hosts}]``; each guest is an
    evacuation entry plus ``candidates`` (every destination the plan lists as ready, then ready after
    preparation, the planned one first). A wave holds at most ``options.per_source`` guests of one
    source and ``options.per_destination`` guests for one destination; the guests keep the plan's
    order (a guest never runs before one listed earlier). ``hosts``: sources, planned destinations
    and candidates of the wave (whose facts the just-in-time check needs). ``held``: ``{uuid:
    result}`` of guests that are not run: ``stranded`` (nowhere to go), ``needs_preparation``
    (preparation not allowed) or ``skipped`` (an approved plan's entry whose mdev is no longer on the hosts).

    ``previous``: an earlier run's report; its guests this plan does not list (:func:`resume_entries`)
    form a first wave that migrates nothing (every host of ``plan`` is among its hosts); they are
    also listed as ``resumed``. ``sources``: the hosts the waves migrate guests from.
    """
    if not isinstance(evacuation, Mapping) or not isinstance(evacuation.get("guests"), list):
        raise ValueError("evacuation: expected an evacuation_plan result (with 'guests')")
    by_uuid = {g.get("uuid"): g for g in (plan or {}).get("guests") or []}
    held: dict[str, str] = {}
    resumed = resume_entries(previous, evacuation)
    waves: list[dict[str, Any]] = [_resume_wave(resumed, plan)] if resumed else []
    sources: Counter[str] = Counter()
    destinations: Counter[str] = Counter()
    fresh = True
    for entry in evacuation["guests"]:
        why = _held(entry, options.prepare)
        if why is not None:
            held[entry["uuid"]] = why
            continue
        ready, after = _candidates(by_uuid.get(entry["uuid"]))
        planned = entry["destination"]
        candidates = [planned] + [h for h in ready + after if h != planned and h != entry.get("source")]
        if fresh or sources[entry["source"]] >= options.per_source or destinations[planned] >= options.per_destination:
            waves.append({"index": len(waves) + 1, "guests": [], "hosts": []})
            sources.clear()
            destinations.clear()
            fresh = False
        wave = waves[-1]
        wave["guests"].append({**entry, "candidates": candidates})
        sources[entry["source"]] += 1
        destinations[planned] += 1
        wave["hosts"] = sorted(set(wave["hosts"]) | {entry["source"], *candidates})
    migrating = sorted({g["source"] for w in waves for g in w["guests"] if not g.get("resume")})
    return {"waves": waves, "held": held, "resumed": resumed, "sources": migrating}
