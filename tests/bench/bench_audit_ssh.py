"""Benchmark: the audit playbook over SSH on 20 simulated hosts against `ansible all -m ping` over SSH.

A generated 20-host fleet (10 mdevs each) is mounted live and every host served by its own sshd
(``apsim ssh-serve``), module Python per the controller's ansible-core (helpers/ssh_fleet.py).
Both commands run in the same benchmark run with the same connection settings, as a user would
set them for a fleet: SSH pipelining on, ControlMaster/ControlPersist on, become (sudo), forks
BENCH_SSH_FORKS (default 10). A first, untimed ping opens the persistent connections; then ping and
the audit are timed on warm connections, so the ratio audit / ping says what the audit costs beyond
visiting every host once. Target: ratio <= 1.5. Figures only; nothing passes or fails on time.

The audit is also timed with its gather step only (``vfio_ap_audit_report=false``: ap_facts on
every host, the part that crosses SSH), so the figures separate the per-host cost from the
controller's planning and reports. Note that every sysfs read of a simulated host is served by the
simulator's one Python FUSE process, far slower than a kernel's sysfs; on this machine that, not
SSH, dominates the gather step (ap_facts costs the same over SSH as locally on the live mount).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from apsim import sshd
from apsim.generate import scale_fleet
from apsim.live import start
from helpers.ansible_run import VENV_BIN, ansible_env
from helpers.ssh_fleet import target_python, target_version

ROOT = Path(__file__).resolve().parents[2]
HOSTS = int(os.environ.get("BENCH_SSH_HOSTS", "20"))
MDEVS = int(os.environ.get("BENCH_SSH_MDEVS", "10"))
FORKS = int(os.environ.get("BENCH_SSH_FORKS", "10"))

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


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0",
                       "ANSIBLE_CONFIG": str(cwd / "ansible.cfg")})  # fmt: skip
    for name in ("ANSIBLE_FORKS", "ANSIBLE_HOST_KEY_CHECKING"):
        env.pop(name, None)
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=3600)
    return time.perf_counter() - started, proc


def run(workdir: Path) -> dict:
    """Mount the fleet, serve it over SSH, time ping and the audit; return the figures."""
    version = target_version()
    python = target_python(version)
    if python is None:
        raise RuntimeError(f"Python {version} is not installed under pyenv (the module side of this benchmark)")
    live = start(scale_fleet(HOSTS, MDEVS, seed=1), workdir / "mnt")
    try:
        inventory = workdir / "inventory.yml"
        sshd.serve(live.root, inventory, python=python, lifetime=3600)
        (workdir / "ansible.cfg").write_text(ANSIBLE_CFG.format(forks=FORKS, cp=workdir / "cp"))
        ping = [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "ansible.builtin.ping"]
        cold_s, cold = _timed(ping, workdir)
        if cold.returncode != 0:
            raise RuntimeError(f"ping failed: {cold.stdout[-2000:]}{cold.stderr[-2000:]}")
        ping_s, _ping = _timed(ping, workdir)
        # the audit's per-host part alone (what crosses SSH): its gather step, no planning or reports
        gather_s, gather = _timed([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / "audit.yml"),
                                   "-e", "vfio_ap_audit_report=false"], workdir)  # fmt: skip
        if gather.returncode != 0:
            raise RuntimeError(f"audit gather failed: {gather.stdout[-3000:]}{gather.stderr[-2000:]}")
        audit_s, audit = _timed([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / "audit.yml"),
                                 "-e", json.dumps({"vfio_ap_audit_report_dir": str(workdir / "reports")})], workdir)  # fmt: skip
        if audit.returncode != 0:
            raise RuntimeError(f"audit failed: {audit.stdout[-3000:]}{audit.stderr[-2000:]}")
        document = json.loads((workdir / "reports" / "readiness.json").read_text())
        from ansible.release import __version__ as core

        return {
            "hosts": HOSTS,
            "mdevs_per_host": MDEVS,
            "guests": document["summary"]["guests"],
            "forks": FORKS,
            "connection": "ssh, pipelining, ControlPersist=120s, become (sudo)",
            "ansible_core": core,
            "module_python": version,
            "ping_cold_s": round(cold_s, 2),
            "ping_s": round(ping_s, 2),
            "audit_s": round(audit_s, 2),
            "ratio_audit_to_ping": round(audit_s / ping_s, 2),
            "audit_gather_only_s": round(gather_s, 2),
            "ratio_gather_to_ping": round(gather_s / ping_s, 2),
            "audit_plan_and_report_s": round(audit_s - gather_s, 2),
            "target_ratio": 1.5,
            "load_average_1m": round(os.getloadavg()[0], 1),
            "python": sys.version.split()[0],
        }
    finally:
        live.unmount()
