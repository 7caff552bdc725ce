"""Benchmark: migration_plan on 1,000 / 5,000 / 10,000 hosts of each host shape, beside the baselines' engines.

The fleets are ``apsim.generate.shaped_fleet`` of the shapes ``SHAPES`` (``BENCH_PLAN_SHAPES``
to choose): from small (4 cards x 4 domains, 4 guests) through the modest real host of issue 23
(10 CEX8C cards x 4 domains, 10 guests, each guest's APQNs on every 20th host) and the fleet
this benchmark used before it had shapes ("spread": 16 x 4, 10 guests) to large (16 cards x
85 domains, 20 guests); every host also holds an idle landing mdev. The shape's placement says
where a guest's APQNs exist (every ``spread``-th host) and how many adapters a guest uses.

Facts come from the simulator: one host of each distinct layout is rendered and gathered with
the real gatherer (the templates); every host then gets its template's facts with its own mdevs
and machine identity. Each measurement runs in a fresh process (``plan_worker.py``), so its peak
RSS is that run's, facts included (``facts_rss_mb``: before the plan). ``BENCH_ROUNDS`` (default 3)
measurements per figure, interleaved with the baselines' (``baselines.py``: ``main`` before issue
23 at every size, 0.1.0 at ``BENCH_PLAN_OLD_SIZES``, default 1,000 hosts: its output grows with
guests x hosts); figures are {min, median, max}; ratios today / baseline per round.
``BENCH_PLAN_FACTS=copied`` gives each host its own copy of its facts (plan_worker.py).

Times are wall and CPU (``cpu_s``: the process's own, the steadier figure on a shared machine).
Targets (issue 23), for every shape: 1,000 hosts <= 1 s; 10,000 hosts <= 15 s and <= 1.5 GB;
growth 5,000 -> 10,000 <= 2.2 x. ``make bench BENCH=plan-profile`` tells where the time goes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import baselines
from apsim.generate import SHAPES, shaped_fleet

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SIZES = tuple(int(n) for n in os.environ.get("BENCH_PLAN_SIZES", "1000,5000,10000").split(","))
OLD_SIZES = tuple(int(n) for n in os.environ.get("BENCH_PLAN_OLD_SIZES", "1000").split(",") if n)
SHAPE_NAMES = tuple(s for s in os.environ.get("BENCH_PLAN_SHAPES", ",".join(SHAPES)).split(",") if s)
_PER_HOST = ("mdevs", "definitions")
_FIGURES = ("wall_s", "cpu_s", "json_s", "peak_rss_mb")
TARGETS = "every shape: 1k hosts <= 1 s; 10k hosts <= 15 s and <= 1536 MB peak RSS; 10k/5k <= 2.2x"


def _layout(spec: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in spec.items() if k not in _PER_HOST}, sort_keys=True)


def _mdev_facts(spec: dict[str, Any]) -> dict[str, Any]:
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import expand_apqns, format_apqn

    apqns = [format_apqn(a, d) for a, d in expand_apqns(spec["adapters"], spec["domains"])]
    return {
        "uuid": spec["uuid"],
        "adapters": list(spec["adapters"]),
        "domains": list(spec["domains"]),
        "control_domains": list(spec["control_domains"]),
        "apqns": apqns,
        "guest_apqns": apqns,
        "in_use": bool(spec.get("guest")),
        "migratable": True,
        "defined": True,
        "start": spec.get("start") or "auto",
        "guest": spec.get("guest"),
    }


def facts_from_templates(fleet: dict[str, Any], templates: dict[str, Any]) -> dict[str, Any]:
    """Return {host: facts}: each host's template facts (by layout) with its own mdevs, definitions and identity."""
    out = {}
    for number, (name, spec) in enumerate(fleet["hosts"].items()):
        base = templates[_layout(spec)]
        mdevs = [_mdev_facts(m) for m in spec.get("mdevs") or []]
        definitions = [
            {k: m[k] for k in ("uuid", "adapters", "domains", "control_domains")} | {"start": "auto", "active": True} for m in mdevs
        ]
        vfio = dict(base["driver"], migration=spec.get("migration", "kernel"), mdevs=mdevs, definitions=definitions)
        # its own machine: a template's identity would make every host of a layout the same LPAR
        cpc = dict((base.get("host") or {}).get("cpc") or {}, sequence_code=f"{number // 85:016X}")
        identity = {
            "machine_id": hashlib.md5(name.encode()).hexdigest(),
            "cpc": cpc,
            "lpar": {"name": name[-8:].upper(), "number": number % 85},
        }
        # the driver block under both of its names: "driver" (facts schema 2, today's engine) and "vfio_ap"
        # (the engines before the rename, e.g. the baseline main), so that every engine reads the same mdevs
        out[name] = dict(base, driver=vfio, vfio_ap=vfio, host=identity)
    return out


def _code_key() -> str:
    """Return a hash of the gatherer's and the simulator's sources (what a template's facts depend on)."""
    digest = hashlib.sha256()
    for folder in (ROOT / "plugins" / "module_utils", ROOT / "tests" / "apsim"):
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def gather_templates(shape: str, hosts: int) -> dict[str, Any]:
    """Return {layout: facts} for every distinct host layout of a shape's fleet of ``hosts`` hosts.

    Each layout's facts are gathered from one rendered host (rendered, gathered and removed one at
    a time, on tmpfs when there is one) and kept in tests/output/bench/plan-templates/, keyed by
    the gatherer's and the simulator's sources, for the next run.
    """
    import shutil
    import tempfile

    from helpers.fleet_facts import facts_for_fleet

    cache = ROOT / "tests" / "output" / "bench" / "plan-templates" / f"{shape}-{_code_key()}.json"
    known: dict[str, Any] = json.loads(cache.read_text()) if cache.exists() else {}
    fleet = shaped_fleet(hosts, SHAPES[shape])["hosts"]
    chosen: dict[str, str] = {}
    for name, spec in fleet.items():
        chosen.setdefault(_layout(spec), name)
    missing = [layout for layout in chosen if layout not in known]
    scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    for layout in missing:
        name = chosen[layout]
        where = Path(tempfile.mkdtemp(prefix="bench-plan-template-", dir=scratch))
        try:
            known[layout] = facts_for_fleet({"hosts": {name: dict(fleet[name], mdevs=[])}}, where)[name]
        finally:
            shutil.rmtree(where, ignore_errors=True)
    if missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return {layout: known[layout] for layout in chosen}


def baseline_tree(workdir: Path, commit: str = baselines.BASELINES["0.1.0"]) -> Path | None:
    """Return a collections directory holding the plugins of ``commit``, or None when git cannot provide them."""
    return baselines.collection_at(commit, workdir / f"baseline-{commit}", parts=("plugins",))


def measure(templates_file: Path, shape: str, hosts: int, collections: Path, mode: str = "time") -> dict[str, Any]:
    """Run one plan_worker.py measurement; return its figures ({"error": last line} when it failed)."""
    run = subprocess.run(
        [sys.executable, str(HERE / "plan_worker.py"), str(templates_file), shape, str(hosts), str(collections), mode],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PYTHONPATH=f"{collections}:{ROOT / 'tests'}"),
    )
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def templates_for(shape: str, workdir: Path, hosts: int | None = None) -> Path:
    """Gather a shape's templates (for ``hosts`` hosts, default the largest size measured) into a file; return its path."""
    path = workdir / f"templates-{shape}.json"
    path.write_text(json.dumps(gather_templates(shape, hosts or max(SIZES))))
    return path


def _reduce(runs: list[dict[str, Any]], prefix: str, figures: dict[str, Any]) -> None:
    """Add {min, median, max} of each timed figure of the runs (and the first run's other figures) under prefix."""
    good = [r for r in runs if "error" not in r]
    if not good:
        figures[f"{prefix}error"] = runs[0].get("error", "failed")
        return
    for key in _FIGURES:
        figures[f"{prefix}{key}"] = baselines.spread([r[key] for r in good])
    for key in ("facts_rss_mb", "json_mb", "json_bytes_per_guest", "verdicts"):
        figures[f"{prefix}{key}"] = good[0][key]


def run(workdir: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"shapes": ", ".join(f"{n}: {SHAPES[n]}" for n in SHAPE_NAMES)}
    trees: dict[str, tuple[Path, tuple[int, ...]]] = {"today": (ROOT / ".collections", SIZES)}
    for label, commit in baselines.wanted("main,0.1.0"):
        tree = baseline_tree(workdir, commit)
        if tree is not None:
            trees[baselines.describe(label, commit)] = (tree, SIZES if label != "0.1.0" else OLD_SIZES)
    figures["baselines"] = ", ".join(name for name in trees if name != "today") or "none"
    figures["facts"] = os.environ.get("BENCH_PLAN_FACTS", "shared") + " (plan_worker.py)"
    for shape in SHAPE_NAMES:
        templates = templates_for(shape, workdir)
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for number in range(baselines.ROUNDS):
            for n in SIZES:
                for name, (tree, sizes) in baselines.alternate(trees, number):
                    if n in sizes:
                        runs.setdefault((name, n), []).append(measure(templates, shape, n, tree))
        for n in SIZES:
            for name in trees:
                if (name, n) not in runs:
                    continue
                prefix = f"{shape} {n}: " if name == "today" else f"{shape} {n} baseline {name}: "
                _reduce(runs[(name, n)], prefix, figures)
                today, other = runs[("today", n)], runs[(name, n)]
                if name != "today" and all("wall_s" in r for r in today + other):
                    for key in ("wall_s", "cpu_s"):
                        figures[f"{shape} {n}: ratio_today_to_{name.split()[0]} ({key})"] = baselines.ratio(
                            [r[key] for r in today], [r[key] for r in other]
                        )
        for name in trees:
            small, large = runs.get((name, 5000)), runs.get((name, 10000))
            if small and large and all("wall_s" in r for r in small + large):
                label = "" if name == "today" else f" baseline {name}"
                for key in ("wall_s", "cpu_s"):
                    figures[f"{shape} growth_10000_over_5000{label} ({key})"] = baselines.ratio(
                        [r[key] for r in large], [r[key] for r in small]
                    )
        # each shape's figures as soon as it is done (a whole run takes long)
        print(json.dumps({k: v for k, v in figures.items() if k.startswith(f"{shape} ")}), flush=True)
    figures["targets"] = TARGETS
    return figures
