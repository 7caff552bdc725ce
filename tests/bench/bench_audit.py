"""Benchmark: the audit playbook on a 100-host simulated fleet against `ansible all -m ping`.

All run in the same benchmark run, on the same inventory (local connection, rendered hosts: the
module reads plain files through ``vfio_ap_sysroot``), with Ansible's default forks: ping is the
least Ansible can do per host, so the ratio audit / ping says what the audit costs beyond
visiting every host once. ``BENCH_ROUNDS`` rounds (default 3), interleaved: ping; the audit's
gather step alone (``vfio_ap_audit_report=false``); the whole audit; and the same two with the
collection of each baseline (``baselines.py``; default ``main`` before issue 23). Figures are
{min, median, max} over the rounds; ratios per round, then reduced. The planning and reports
figure is audit - gather of the same round. Target (issue 23): audit <= 1.3 x ping.
Figures only; nothing passes or fails on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import baselines
from apsim.fleet import build_fleet
from apsim.generate import scale_fleet
from apsim.render import render_fleet
from helpers.ansible_run import COLLECTIONS, VENV_BIN, ansible_env, local_inventory

ROOT = Path(__file__).resolve().parents[2]
HOSTS = int(os.environ.get("BENCH_AUDIT_HOSTS", "100"))
MDEVS = int(os.environ.get("BENCH_AUDIT_MDEVS", "10"))


def _timed(cmd: list[str], cwd: Path, collections: Path = COLLECTIONS, task_times: Path | None = None) -> float:
    """Run an Ansible command with the collection under ``collections``; return its wall time (task times: see baselines)."""
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0",
                       "ANSIBLE_COLLECTIONS_PATH": str(collections), **baselines.task_times_env(task_times)})  # fmt: skip
    env.pop("ANSIBLE_FORKS", None)
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=3600)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return elapsed


def _audit(collections: Path, inventory: Path, *extra: str) -> list[str]:
    playbook = collections / "ansible_collections" / "s390x" / "vfio_ap" / "playbooks" / "audit.yml"
    return [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *extra]


def run(workdir: Path) -> dict:
    """Render the fleet, time ping, the gather step and the audit (today's and the baselines') on it; return the figures."""
    hosts = build_fleet(scale_fleet(HOSTS, MDEVS, seed=1))
    render_fleet(hosts, workdir / "hosts")
    inventory = local_inventory(
        {name: {"vfio_ap_sysroot": str(workdir / "hosts" / name)} for name in sorted(hosts)}, workdir / "inventory.yml"
    )
    trees = {"today": COLLECTIONS}
    for label, commit in baselines.wanted("main"):
        tree = baselines.collection_at(commit, workdir / f"baseline-{label}")
        if tree is not None:
            trees[baselines.describe(label, commit)] = tree
    ping = [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "ansible.builtin.ping"]
    samples: dict[str, list[float]] = {"ping": []}
    tasks: dict[str, list[Path]] = {}
    reports = workdir / "reports"
    for number in range(baselines.ROUNDS):
        samples["ping"].append(_timed(ping, workdir))
        for name, tree in baselines.alternate(trees, number):
            samples.setdefault(f"{name} gather", []).append(
                _timed(_audit(tree, inventory, "-e", "vfio_ap_audit_report=false"), workdir, tree)
            )
            reports = workdir / f"reports-{number}-{len(samples)}"
            audit = _audit(tree, inventory, "-e", json.dumps({"vfio_ap_audit_report_dir": str(reports)}))
            times = workdir / f"tasks-{number}-{len(samples)}.json"
            samples.setdefault(f"{name} audit", []).append(_timed(audit, workdir, tree, times))
            tasks.setdefault(name, []).append(times)
    document = json.loads((reports / "readiness.json").read_text())
    sizes = {p.name: p.stat().st_size for p in reports.iterdir()}
    figures: dict = {
        "hosts": HOSTS,
        "mdevs_per_host": MDEVS,
        "guests": document["summary"]["guests"],
        "forks": "default (5)",
        "backing": "rendered files (apsim render), local connection, vfio_ap_sysroot",
        "rounds": baselines.ROUNDS,
        "ping_s": baselines.spread(samples["ping"]),
    }
    for name in trees:
        gather, audit = samples[f"{name} gather"], samples[f"{name} audit"]
        prefix = "" if name == "today" else f"baseline {name}: "
        figures[f"{prefix}audit_gather_only_s"] = baselines.spread(gather)
        figures[f"{prefix}audit_s"] = baselines.spread(audit)
        figures[f"{prefix}audit_plan_and_report_s"] = baselines.spread([a - g for a, g in zip(audit, gather, strict=True)])
        figures[f"{prefix}ratio_gather_to_ping"] = baselines.ratio(gather, samples["ping"])
        figures[f"{prefix}ratio_audit_to_ping"] = baselines.ratio(audit, samples["ping"])
        if name != "today":
            figures[f"{prefix}ratio_today_audit_to_baseline"] = baselines.ratio(samples["today audit"], audit)
        figures[f"{prefix}audit_task_times_s (median)"] = baselines.task_times(tasks[name], audit)
    figures.update(
        {
            "target": "audit <= 1.3 x ping",
            "html_kib": round(sizes["readiness.html"] / 1024),
            "json_kib": round(sizes["readiness.json"] / 1024),
            "load_average_1m": round(os.getloadavg()[0], 1),
            "python": sys.version.split()[0],
        }
    )
    # printed now: removing the rendered fleet (about 5 GB of small files) takes minutes
    print(json.dumps(figures), flush=True)
    return figures
