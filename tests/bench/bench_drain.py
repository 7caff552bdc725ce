"""Benchmark: a drain wave of the maintenance role on the live demo fleet, today's collection beside a baseline's.

Each round mounts the demo fleet afresh (the drain changes it) and drains kvm-a1 with
``playbooks/pre_maintenance.yml`` (execute, preparation allowed; the simulator's ``virsh`` migrates)
once per collection tree, alternating their order. A callback records every task in order; a wave
runs from the first task of ``roles/maintenance/tasks/wave.yml`` to the first task after it (the
next wave's first task, or the report). Figures, per wave (median over the waves of a run, then
{min, median, max} over the rounds): ``wave_s``, the wall time of a wave; ``decisions_s``, the
controller steps of a wave (its ``set_fact`` tasks and the ``_drain`` action plugin); and the
ratio today / baseline of each, per round. ``BENCH_BASELINES`` (default: main before issue 24,
``4cb8527``), ``BENCH_ROUNDS`` (default 3). Figures only; nothing passes or fails on time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import baselines
from apsim.live import fuse_unavailable, mounted
from helpers.ansible_run import COLLECTIONS, VENV_BIN, ansible_env, local_inventory

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "fleets" / "demo.yml"
HOSTS = ("kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3")
WAVE_FILE = "roles/maintenance/tasks/wave.yml"
DECISIONS = ("set_fact", "_drain")


def _drain(collections: Path, live, workdir: Path, sequence: Path) -> float:
    """Drain kvm-a1 of the mounted fleet with the collection under ``collections``; return the wall time."""
    inventory = local_inventory({h: {"vfio_ap_sysroot": str(live.host_dir(h))} for h in HOSTS}, workdir / "inventory.yml")
    extra = {
        "vfio_ap_maintenance_hosts": "kvm-a1",
        "vfio_ap_maintenance_execute": True,
        "vfio_ap_maintenance_prepare": True,
        "vfio_ap_maintenance_fail_when_not_empty": False,
        "vfio_ap_maintenance_report_dir": str(workdir / "reports"),
        "vfio_ap_maintenance_environment": {
            "APSIM_MOUNT": str(live.root),
            "APSIM_HOST": "{{ inventory_hostname }}",
            "PATH": f"{ROOT / 'tests' / 'apsim' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        },
    }
    env = ansible_env(
        {
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_CALLBACK_PLUGINS": str(Path(__file__).resolve().parent / "callbacks"),
            "ANSIBLE_CALLBACKS_ENABLED": "task_sequence",
            "BENCH_TASK_SEQUENCE": str(sequence),
        }
    )
    playbook = collections / "ansible_collections" / "s390x" / "vfio_ap" / "playbooks" / "pre_maintenance.yml"
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e", json.dumps(extra)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=workdir, timeout=3600)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"the drain failed: {proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return elapsed


def waves(sequence: Path) -> list[dict[str, float]]:
    """Return, per wave of a run, ``{wave_s, decisions_s}`` from the task sequence the callback wrote."""
    tasks = json.loads(sequence.read_text())["tasks"]
    in_wave = [t["file"].endswith(WAVE_FILE) for t in tasks]
    first = next((t["name"] for t, w in zip(tasks, in_wave, strict=True) if w), None)
    starts = [i for i, task in enumerate(tasks) if in_wave[i] and task["name"] == first]
    found: list[dict[str, float]] = []
    for n, i in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else max(j for j in range(len(tasks)) if in_wave[j]) + 1
        end = tasks[stop]["start"] if stop < len(tasks) else tasks[-1]["start"] + tasks[-1]["seconds"]
        decisions = sum(tasks[k]["seconds"] for k in range(i, stop) if in_wave[k] and tasks[k]["action"].endswith(DECISIONS))
        found.append({"wave_s": end - tasks[i]["start"], "decisions_s": decisions})
    return found


def run(workdir: Path) -> dict:
    """Drain the demo fleet with today's collection and each baseline's, round after round; return the figures."""
    reason = fuse_unavailable()
    if reason:
        return {"skipped": reason}
    trees = {"today": COLLECTIONS}
    for label, commit in baselines.wanted("4cb8527"):
        tree = baselines.collection_at(commit, workdir / f"baseline-{label}")
        if tree is not None:
            trees[baselines.describe(label, commit)] = tree
    samples: dict[str, dict[str, list[float]]] = {name: {"run_s": [], "wave_s": [], "decisions_s": [], "waves": []} for name in trees}
    for number in range(baselines.ROUNDS):
        for name, tree in baselines.alternate(trees, number):
            work = workdir / f"round-{number}-{list(trees).index(name)}"
            work.mkdir()
            sequence = work / "tasks.json"
            with mounted(DEMO, work / "mnt") as live:
                samples[name]["run_s"].append(_drain(tree, live, work, sequence))
            per_wave = waves(sequence)
            samples[name]["waves"].append(len(per_wave))
            for key in ("wave_s", "decisions_s"):
                samples[name][key].append(statistics.median(w[key] for w in per_wave) if per_wave else 0.0)
    figures: dict = {}
    for name, values in samples.items():
        figures[f"{name} waves"] = max(values["waves"])
        for key in ("run_s", "wave_s", "decisions_s"):
            figures[f"{name} {key}"] = baselines.spread(values[key])
    for name in list(trees)[1:]:
        for key in ("wave_s", "decisions_s"):
            figures[f"today/{name} {key}"] = baselines.ratio(samples["today"][key], samples[name][key])
    return figures
