"""Benchmark: the audit playbook over SSH on 20 simulated hosts against `ansible all -m ping` over SSH.

A generated 20-host fleet (``scale_fleet``, 10 mdevs each: 200 guests) is served by an sshd per
host (``apsim ssh-serve``; helpers/ssh_fleet.py), module Python per the controller's
ansible-core. The hosts' trees are, by default, rendered plain files bound read-only into each
sshd's namespace (``BENCH_SSH_BACKING=rendered``), so that ``ap_facts`` costs what it costs on a
file system and the figures measure the collection, not the simulator; ``BENCH_SSH_BACKING=live``
serves them from the live FUSE mount instead (one Python process for every host: the gather step
then mostly measures the simulator). The figures name the backing.

Every command runs with the same connection settings, as a user would set them for a fleet: SSH
pipelining on, ControlMaster/ControlPersist on, become (sudo), forks BENCH_SSH_FORKS (default 10).
A first, untimed ping opens the persistent connections; then, ``BENCH_ROUNDS`` times (default 3)
and interleaved so that load from other processes hits all alike: ping; the audit's gather step
alone (``vfio_ap_audit_report=false``: ap_facts on every host, the part that crosses SSH); the
whole audit; and the same two with the collection of each baseline (``baselines.py``; default
``main`` before issue 23, ``BENCH_BASELINES`` to choose). Figures are {min, median, max} over the
rounds; ratios are taken per round (the audit and the ping of one round), then reduced. Targets
(issue 23): audit <= 1.5 x ping; planning and reports (audit - gather) <= 2 s for 200 guests.
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
from apsim import sshd
from apsim.generate import scale_fleet
from helpers.ansible_run import COLLECTIONS, VENV_BIN, ansible_env
from helpers.ssh_fleet import served_fleet, target_python, target_version

ROOT = Path(__file__).resolve().parents[2]
HOSTS = int(os.environ.get("BENCH_SSH_HOSTS", "20"))
MDEVS = int(os.environ.get("BENCH_SSH_MDEVS", "10"))
FORKS = int(os.environ.get("BENCH_SSH_FORKS", "10"))
BACKING = os.environ.get("BENCH_SSH_BACKING", sshd.RENDERED)

ANSIBLE_CFG = """\
[defaults]
forks = {forks}
host_key_checking = True
[privilege_escalation]
become = True
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=120s
control_path_dir = {cp}
"""


def _timed(cmd: list[str], cwd: Path, collections: Path = COLLECTIONS, task_times: Path | None = None) -> float:
    """Run an Ansible command with the bench's ansible.cfg and the collection under ``collections``; return its wall time.

    With ``task_times``, the play's per-task wall times are written there (callbacks/task_times.py).
    """
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0",
                       "ANSIBLE_CONFIG": str(cwd / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(collections),
                       **baselines.task_times_env(task_times)})  # fmt: skip
    for name in ("ANSIBLE_FORKS", "ANSIBLE_HOST_KEY_CHECKING"):
        env.pop(name, None)
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
    """Serve the fleet over SSH, time ping, the gather step and the audit (today's and the baselines'); return the figures."""
    version = target_version()
    python = target_python(version)
    if python is None:
        raise RuntimeError(f"Python {version} is not installed under pyenv (the module side of this benchmark)")
    trees = {"today": COLLECTIONS}
    for label, commit in baselines.wanted("main"):
        tree = baselines.collection_at(commit, workdir / f"baseline-{label}")
        if tree is not None:
            trees[baselines.describe(label, commit)] = tree
    with served_fleet(scale_fleet(HOSTS, MDEVS, seed=1), workdir, BACKING, python, lifetime=3600) as fleet:
        inventory = fleet.inventory
        (workdir / "ansible.cfg").write_text(ANSIBLE_CFG.format(forks=FORKS, cp=workdir / "cp"))
        ping = [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "ansible.builtin.ping"]
        ping_cold = _timed(ping, workdir)
        samples: dict[str, list[float]] = {"ping": []}
        tasks: dict[str, list[Path]] = {}
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
    from ansible.release import __version__ as core

    figures: dict = {
        "backing": sshd.BACKING_TEXT[BACKING],
        "hosts": HOSTS,
        "mdevs_per_host": MDEVS,
        "guests": document["summary"]["guests"],
        "forks": FORKS,
        "connection": "ssh, pipelining, ControlPersist=120s, become (sudo)",
        "ansible_core": core,
        "module_python": version,
        "rounds": baselines.ROUNDS,
        "ping_cold_s": round(ping_cold, 2),
        "ping_s": baselines.spread(samples["ping"]),
    }
    for name in trees:
        gather, audit = samples[f"{name} gather"], samples[f"{name} audit"]
        prefix = "" if name == "today" else f"baseline {name}: "
        plan = [a - g for a, g in zip(audit, gather, strict=True)]
        figures[f"{prefix}audit_gather_only_s"] = baselines.spread(gather)
        figures[f"{prefix}audit_s"] = baselines.spread(audit)
        figures[f"{prefix}audit_plan_and_report_s"] = baselines.spread(plan)
        figures[f"{prefix}ratio_gather_to_ping"] = baselines.ratio(gather, samples["ping"])
        figures[f"{prefix}ratio_audit_to_ping"] = baselines.ratio(audit, samples["ping"])
        if name != "today":
            figures[f"{prefix}ratio_today_audit_to_baseline"] = baselines.ratio(samples["today audit"], audit)
        figures[f"{prefix}audit_task_times_s (median)"] = baselines.task_times(tasks[name], audit)
    figures["targets"] = "audit <= 1.5 x ping; planning + reports <= 2 s (20 hosts, 200 guests)"
    figures["load_average_1m"] = round(os.getloadavg()[0], 1)
    figures["python"] = sys.version.split()[0]
    return figures
