"""Benchmark: migration_plan for 250, 500 and 1,000 hosts with 10 mdevs each (up to 10,000 mdevs).

Facts come from the simulator: apsim.generate.scale_fleet describes the fleet, and the real facts
gatherer reads rendered hosts. Rendering and gathering a 16-card x 85-domain host takes seconds,
so the benchmark gathers the first TEMPLATES hosts of the generated fleet for real and gives every
further host the facts of the template at the same position in its group of four (same card
layout, as the generator builds them) with that host's own mdevs, guests and migration level from
the generated fleet description (UUIDs unique per host). Only the plan is timed: wall time with
time.perf_counter and CPU time with time.process_time (best of two runs), peak memory with
tracemalloc (allocations made by the plan, in a third run). The load average is reported because
wall time on a shared machine depends on it.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

from apsim.generate import scale_fleet
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import expand_apqns, format_apqn
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan import build_plan

SIZES = (250, 500, 1000)
MDEVS = 10
TEMPLATES = 4


def _mdev_facts(spec: dict[str, Any]) -> dict[str, Any]:
    apqns = [format_apqn(a, d) for a, d in expand_apqns(spec["adapters"], spec["domains"])]
    return {
        "uuid": spec["uuid"],
        "adapters": list(spec["adapters"]),
        "domains": list(spec["domains"]),
        "control_domains": list(spec["control_domains"]),
        "apqns": apqns,
        "guest_apqns": apqns,
        "in_use": True,
        "migratable": True,
        "defined": True,
        "start": spec.get("start"),
        "guest": spec["guest"],
    }


def fleet_facts(n_hosts: int, templates: dict[str, Any]) -> dict[str, Any]:
    """Return {host: facts} for scale_fleet(n_hosts), built on the gathered template hosts."""
    fleet = scale_fleet(n_hosts, MDEVS)["hosts"]
    names = sorted(templates)
    out = {}
    for h, (name, spec) in enumerate(sorted(fleet.items())):
        base = templates[names[h % len(names)]]
        mdevs = [_mdev_facts(m) for m in spec["mdevs"]]
        definitions = [
            {
                "uuid": m["uuid"],
                "start": "auto",
                "adapters": m["adapters"],
                "domains": m["domains"],
                "control_domains": m["control_domains"],
                "active": True,
            }
            for m in mdevs
        ]
        vfio = dict(base["vfio_ap"], migration=spec.get("migration", "kernel"), mdevs=mdevs, definitions=definitions)
        out[name] = dict(base, vfio_ap=vfio)
    return out


def _measure(facts: dict[str, Any]) -> tuple[float, float, dict[str, Any]]:
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    plan = build_plan(facts)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20, plan


def _time_only(facts: dict[str, Any]) -> tuple[float, float]:
    """Return (wall seconds, CPU seconds of this process) of one plan."""
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    build_plan(facts)
    return time.perf_counter() - started, time.process_time() - cpu


def run(workdir: Path) -> dict[str, Any]:
    templates = facts_for_fleet(scale_fleet(TEMPLATES, MDEVS), workdir / "templates")
    figures: dict[str, Any] = {"template_hosts_gathered": TEMPLATES}
    times = {}
    for size in SIZES:
        facts = fleet_facts(size, templates)
        wall, cpu = min(_time_only(facts) for _unused in range(2))
        _traced, peak_mib, plan = _measure(facts)
        times[size] = wall
        summary = plan["summary"]
        figures[f"hosts_{size}_mdevs"] = len(plan["guests"])
        figures[f"hosts_{size}_wall_s"] = round(wall, 3)
        figures[f"hosts_{size}_cpu_s"] = round(cpu, 3)
        figures[f"hosts_{size}_peak_mib"] = round(peak_mib, 1)
        figures[f"hosts_{size}_guests_ready_ready_after_blocked"] = f"{summary['ready']}/{summary['ready_after']}/{summary['blocked']}"
        figures[f"hosts_{size}_destination_cells"] = len(plan["guests"]) * (size - 1)
    figures["growth_500_over_250"] = round(times[500] / times[250], 2)
    figures["growth_1000_over_500"] = round(times[1000] / times[500], 2)
    figures["target_1000_hosts_s"] = 5.0
    figures["load_average_1min"] = round(os.getloadavg()[0], 2)  # the machine is shared: wall time varies
    return figures
