"""Benchmark: the audit playbook on a 100-host simulated fleet against `ansible all -m ping`.

Both run in the same benchmark run, on the same inventory (local connection, rendered hosts),
with Ansible's default forks: ping is the least Ansible can do per host, so the ratio
audit / ping says what the audit costs beyond visiting every host once. Target: ratio <= 2.0.
Figures only; nothing passes or fails on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from apsim.fleet import build_fleet
from apsim.generate import scale_fleet
from apsim.render import render_fleet
from helpers.ansible_run import VENV_BIN, ansible_env, local_inventory

ROOT = Path(__file__).resolve().parents[2]
HOSTS = int(os.environ.get("BENCH_AUDIT_HOSTS", "100"))
MDEVS = int(os.environ.get("BENCH_AUDIT_MDEVS", "10"))


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0"})
    env.pop("ANSIBLE_FORKS", None)
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=3600)
    return time.perf_counter() - started, proc


def run(workdir: Path) -> dict:
    """Render the fleet, time ping and the audit on it; return the figures."""
    hosts = build_fleet(scale_fleet(HOSTS, MDEVS, seed=1))
    render_fleet(hosts, workdir / "hosts")
    inventory = local_inventory(
        {name: {"vfio_ap_sysroot": str(workdir / "hosts" / name)} for name in sorted(hosts)}, workdir / "inventory.yml"
    )
    ping_s, ping = _timed([str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "ansible.builtin.ping"], workdir)
    if ping.returncode != 0:
        raise RuntimeError(f"ping failed: {ping.stdout[-2000:]}{ping.stderr[-2000:]}")
    audit_s, audit = _timed(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            str(ROOT / "playbooks" / "audit.yml"),
            "-e",
            json.dumps({"vfio_ap_audit_report_dir": str(workdir / "reports")}),
        ],
        workdir,
    )
    if audit.returncode != 0:
        raise RuntimeError(f"audit failed: {audit.stdout[-3000:]}{audit.stderr[-2000:]}")
    document = json.loads((workdir / "reports" / "readiness.json").read_text())
    sizes = {p.name: p.stat().st_size for p in (workdir / "reports").iterdir()}
    figures = {
        "hosts": HOSTS,
        "mdevs_per_host": MDEVS,
        "guests": document["summary"]["guests"],
        "forks": "default (5)",
        "ping_s": round(ping_s, 2),
        "audit_s": round(audit_s, 2),
        "ratio_audit_to_ping": round(audit_s / ping_s, 2),
        "target_ratio": 2.0,
        "html_kib": round(sizes["readiness.html"] / 1024),
        "json_kib": round(sizes["readiness.json"] / 1024),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "python": sys.version.split()[0],
    }
    # printed now: removing the rendered fleet (about 5 GB of small files) takes minutes
    print(json.dumps(figures), flush=True)
    return figures
