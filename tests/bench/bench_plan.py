"""Benchmark: migration_plan at 1,000 / 2,000 / 5,000 / 10,000 hosts, side by side with the 0.1.0 engine.

The fleet is ``apsim.generate.spread_fleet``: 10 guests per host (plus one idle landing mdev),
each guest's APQNs installed on every 20th host. Facts come from the simulator: one host of each
distinct layout is rendered and gathered with the real gatherer (the templates); every host then
gets its template's facts with its own mdevs. Each measurement runs in a fresh process
(``plan_worker.py``), so the peak RSS is that run's (facts included). The 0.1.0 engine is taken
from the git history (``BASELINE``) into a temporary collection tree and measured at the sizes it
survives (its output grows with guests × hosts). Targets (issue: readiness engine 2): 10,000 hosts
in <= 20 s and <= 2 GB, 1,000 hosts in <= 1 s, 5,000 -> 10,000 growth <= 2.3x, <= 2 KB of JSON per guest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

from apsim.generate import spread_fleet

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SIZES = tuple(int(n) for n in os.environ.get("BENCH_PLAN_SIZES", "1000,2000,5000,10000").split(","))
BASELINE_SIZES = tuple(int(n) for n in os.environ.get("BENCH_PLAN_BASELINE_SIZES", "1000,2000").split(","))
BASELINE = "3eb9cc1"  # release 0.1.0
_PER_HOST = ("mdevs", "definitions")


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
        vfio = dict(base["vfio_ap"], migration=spec.get("migration", "kernel"), mdevs=mdevs, definitions=definitions)
        # its own machine: a template's identity would make every host of a layout the same LPAR
        cpc = dict((base.get("host") or {}).get("cpc") or {}, sequence_code=f"{number // 85:016X}")
        identity = {
            "machine_id": hashlib.md5(name.encode()).hexdigest(),
            "cpc": cpc,
            "lpar": {"name": name[-8:].upper(), "number": number % 85},
        }
        out[name] = dict(base, vfio_ap=vfio, host=identity)
    return out


def gather_templates(workdir: Path) -> dict[str, Any]:
    """Return {layout: facts} for every distinct host layout of the largest benchmark fleet."""
    from helpers.fleet_facts import facts_for_fleet

    fleet = spread_fleet(max(SIZES))["hosts"]
    chosen: dict[str, str] = {}
    for name, spec in fleet.items():
        chosen.setdefault(_layout(spec), name)
    sample = {"hosts": {name: dict(fleet[name], mdevs=[]) for name in chosen.values()}}
    facts = facts_for_fleet(sample, workdir / "templates")
    return {layout: facts[name] for layout, name in chosen.items()}


def baseline_tree(workdir: Path) -> Path | None:
    """Return a collections directory holding the 0.1.0 plugins, or None when git cannot provide them."""
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "plugins"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    target = workdir / "baseline" / "ansible_collections" / "s390x" / "vfio_ap"
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")
    return workdir / "baseline"


def measure(templates_file: Path, hosts: int, collections: Path) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, str(HERE / "plan_worker.py"), str(templates_file), str(hosts), str(collections)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PYTHONPATH=f"{collections}:{ROOT / 'tests'}"),
    )
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def run(workdir: Path) -> dict[str, Any]:
    templates_file = workdir / "templates.json"
    templates_file.write_text(json.dumps(gather_templates(workdir)))
    figures: dict[str, Any] = {}
    new = {n: measure(templates_file, n, ROOT / ".collections") for n in SIZES}
    old_tree = baseline_tree(workdir)
    old = {n: measure(templates_file, n, old_tree) for n in BASELINE_SIZES} if old_tree else {}
    for n in SIZES:
        for key, value in new[n].items():
            if key != "hosts":
                figures[f"hosts_{n}_{key}"] = value
        if n in old:
            for key in ("wall_s", "plan_and_json_s", "json_mb", "peak_rss_mb", "error"):
                if key in old[n]:
                    figures[f"hosts_{n}_baseline_{key}"] = old[n][key]
            if "wall_s" in old[n] and "wall_s" in new[n]:
                figures[f"hosts_{n}_speedup_vs_0.1.0"] = round(old[n]["wall_s"] / new[n]["wall_s"], 2)
                figures[f"hosts_{n}_speedup_with_json_vs_0.1.0"] = round(old[n]["plan_and_json_s"] / new[n]["plan_and_json_s"], 2)
                figures[f"hosts_{n}_json_ratio_0.1.0_over_new"] = round(old[n]["json_mb"] / max(new[n]["json_mb"], 0.01), 1)
    if 5000 in new and 10000 in new and "wall_s" in new[5000] and "wall_s" in new[10000]:
        figures["growth_10000_over_5000"] = round(new[10000]["wall_s"] / new[5000]["wall_s"], 2)
    figures["baseline"] = f"0.1.0 ({BASELINE})" if old_tree else "unavailable (no git history)"
    figures["targets"] = "10k hosts <= 20 s and <= 2048 MB; 1k hosts <= 1 s; 10k/5k <= 2.3x; <= 2048 B JSON per guest"
    return figures
