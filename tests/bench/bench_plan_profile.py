"""Benchmark: where migration_plan spends its time on 10,000 hosts of each host shape (``make bench BENCH=plan-profile``).

For each shape of ``bench_plan`` (``BENCH_PLAN_SHAPES``) at ``BENCH_PROFILE_HOSTS`` hosts
(default 10,000), in fresh processes (``plan_worker.py``):

- ``phases``: ``BENCH_ROUNDS`` runs with light timers around the engine's parts, the median of
  each part's exclusive time: the door check (``require_facts``), the queues' check and expansion
  (``HostFacts.queue``), the rest of the ``HostFacts`` construction, the ``DestinationIndex``,
  the per-guest ``evaluate``, the rest of each guest's entry (the output), the summary, the JSON,
  and the RSS once the hosts and the index are built beside the peak;
- ``cprofile``: one run under cProfile (several times slower; proportions, not times): the
  heaviest functions by own time and by cumulative time; the profile file is kept under
  tests/output/bench/ for ``python -m pstats`` or snakeviz.

The engine is today's tree (``BENCH_PROFILE_TREE=main`` or another baseline label or commit
profiles that one instead). Figures only.
"""

from __future__ import annotations

import os
import shutil
import statistics
from pathlib import Path
from typing import Any

import baselines
from bench_plan import ROOT, SHAPE_NAMES, measure, templates_for

HOSTS = int(os.environ.get("BENCH_PROFILE_HOSTS", "10000"))
KEEP = ROOT / "tests" / "output" / "bench"


def _tree(workdir: Path) -> tuple[str, Path]:
    wanted = os.environ.get("BENCH_PROFILE_TREE", "today")
    if wanted == "today":
        return "today", ROOT / ".collections"
    commit = baselines.BASELINES.get(wanted, wanted)
    tree = baselines.collection_at(commit, workdir / f"tree-{commit}", parts=("plugins",))
    if tree is None:
        raise RuntimeError(f"BENCH_PROFILE_TREE={wanted}: git cannot provide the plugins of {commit}")
    return baselines.describe(wanted, commit), tree


def run(workdir: Path) -> dict[str, Any]:
    name, tree = _tree(workdir)
    figures: dict[str, Any] = {"tree": name, "hosts": HOSTS, "rounds": baselines.ROUNDS}
    for shape in SHAPE_NAMES:
        templates = templates_for(shape, workdir, HOSTS)
        runs = [measure(templates, shape, HOSTS, tree, "phases") for _unused in range(baselines.ROUNDS)]
        good = [r for r in runs if "phases_s" in r]
        if not good:
            figures[f"{shape}: error"] = runs[0].get("error", "failed")
            continue
        figures[f"{shape}: wall_s"] = baselines.spread([r["wall_s"] for r in good])
        figures[f"{shape}: cpu_s"] = baselines.spread([r["cpu_s"] for r in good])
        for key in ("phases_cpu_s", "phases_s"):
            parts = {part: round(statistics.median(r[key][part] for r in good), 2) for part in good[0][key]}
            figures[f"{shape}: {key} (median)"] = dict(sorted(parts.items(), key=lambda kv: -kv[1]))
        figures[f"{shape}: calls"] = good[0]["calls"]
        figures[f"{shape}: rss_mb facts / hosts+index / peak"] = (
            f"{good[0]['facts_rss_mb']} / {good[0].get('rss_after_hosts_and_index_mb')} / {good[0]['peak_rss_mb']}"
        )
        figures[f"{shape}: guests, verdicts ready/after/blocked"] = f"{good[0]['guests']}, {good[0]['verdicts']}"
        profiled = measure(templates, shape, HOSTS, tree, "cprofile")
        if "error" in profiled:
            figures[f"{shape}: cprofile error"] = profiled["error"]
            continue
        KEEP.mkdir(parents=True, exist_ok=True)
        kept = KEEP / Path(profiled["profile"]).name
        shutil.copyfile(profiled["profile"], kept)
        figures[f"{shape}: cprofile wall_s"] = profiled["wall_s"]
        figures[f"{shape}: top own time"] = profiled["top_own"]
        figures[f"{shape}: top cumulative"] = profiled["top_cumulative"]
        figures[f"{shape}: profile"] = str(kept)
    return figures
