"""Benchmark: the rolling maintenance plan (rolling_plan) of a whole fleet, 50 / 100 / 200 hosts x 20 guests.

The fleet is ``apsim.generate.rolling_fleet``: every host is maintained, each full of guests that
can only go to mirrored LPARs of another slot (so capacity, not compatibility, decides), every
tenth one on older cards. Facts come from the simulator as in bench_plan: one host of each distinct
layout is rendered and gathered with the real gatherer, every host then gets its template's facts
with its own mdevs. Each measurement runs in a fresh process (``rolling_worker.py``), so the peak
RSS is that run's. Batch sizes 1 and 10 (``BENCH_ROLLING_BATCHES``); figures only. The cost
claim is near-linear in guests x batches: ``us_per_guest_batch`` should stay roughly flat as
the fleet grows (the engine's evaluations grow with the guests, the step passes with guests x batches).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SIZES = tuple(int(n) for n in os.environ.get("BENCH_ROLLING_SIZES", "50,100,200").split(","))
BATCHES = tuple(int(n) for n in os.environ.get("BENCH_ROLLING_BATCHES", "1,10").split(","))
GUESTS = 20


def gather_templates(workdir: Path) -> dict[str, Any]:
    """Return {layout: facts} for every distinct host layout of the largest benchmark fleet."""
    sys.path.insert(0, str(HERE))
    from apsim.generate import rolling_fleet
    from bench_plan import _layout
    from helpers.fleet_facts import facts_for_fleet

    fleet = rolling_fleet(max(SIZES), GUESTS)["hosts"]
    chosen: dict[str, str] = {}
    for name, spec in fleet.items():
        chosen.setdefault(_layout(spec), name)
    sample = {"hosts": {name: dict(fleet[name], mdevs=[]) for name in chosen.values()}}
    facts = facts_for_fleet(sample, workdir / "templates")
    return {layout: facts[name] for layout, name in chosen.items()}


def measure(templates_file: Path, hosts: int, batch: int) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, str(HERE / "rolling_worker.py"), str(templates_file), str(hosts), str(GUESTS), str(batch)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PYTHONPATH=f"{ROOT / '.collections'}:{ROOT / 'tests'}"),
    )
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def run(workdir: Path) -> dict[str, Any]:
    templates_file = workdir / "templates.json"
    templates_file.write_text(json.dumps(gather_templates(workdir)))
    figures: dict[str, Any] = {}
    for batch in BATCHES:
        for n in SIZES:
            found = measure(templates_file, n, batch)
            for key, value in found.items():
                if key not in ("hosts", "batch_size"):
                    figures[f"hosts_{n}_batch_{batch}_{key}"] = value
        first, last = SIZES[0], SIZES[-1]
        a, b = figures.get(f"hosts_{first}_batch_{batch}_wall_s"), figures.get(f"hosts_{last}_batch_{batch}_wall_s")
        ga, gb = figures.get(f"hosts_{first}_batch_{batch}_guest_batches"), figures.get(f"hosts_{last}_batch_{batch}_guest_batches")
        if a and b and ga and gb:
            figures[f"batch_{batch}_growth_{last}_over_{first}"] = round(b / a, 2)
            figures[f"batch_{batch}_guest_batches_ratio_{last}_over_{first}"] = round(gb / ga, 2)
    figures["fleet"] = f"rolling_fleet: every host maintained, {GUESTS} guests each, classes of 10 mirrored LPARs, 3 slots"
    return figures
