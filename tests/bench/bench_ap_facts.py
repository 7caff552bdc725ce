"""Benchmark: ap_facts on a 256-adapter x 85-domain host (21,760 queues) against a plain read of its files.

Figures:
- ``module_s``: wall time of ``ansible localhost -m s390x.vfio_ap.ap_facts -a sysroot=<host>``
  (the whole ad-hoc run: controller start, module, result processing, the test JSON callback);
- ``plain_read_s``: ``find <host> -type f | xargs cat > /dev/null`` over the same rendered tree;
- ``ratio`` = module_s / plain_read_s (target <= 2.0);
- ``module_peak_rss_mb``: peak RSS of the module process itself: the AnsiballZ payload Ansible
  ran (kept with ANSIBLE_KEEP_REMOTE_FILES) executed again in a child, maxrss from
  ``resource.getrusage(RUSAGE_CHILDREN)`` in a fresh measuring process (target <= 200 MB);
- ``gather_s``: ``_facts.gather_facts`` alone, in-process (the module's own reading and parsing);
- ``facts_json_mb``: size of the module's result JSON.
Each timing is the best of ``ROUNDS`` runs (module and plain read interleaved), all with a warm page
cache (the tree was just written).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from apsim.fleet import build_fleet
from apsim.generate import big_host
from apsim.render import render_fleet
from helpers.ansible_run import VENV_BIN, ansible_env

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts

ROUNDS = 2
_MEASURE = r"""
import resource, subprocess, sys
proc = subprocess.run([sys.executable, sys.argv[1]], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(proc.returncode, peak, len(proc.stdout))
"""


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _ansible_cmd(sysroot: Path) -> list[str]:
    return [
        str(VENV_BIN / "ansible"), "localhost", "-c", "local", "-m", "s390x.vfio_ap.ap_facts",
        "-a", f"sysroot={sysroot}", "-e", f"ansible_python_interpreter={sys.executable}",
    ]  # fmt: skip


def run(workdir: Path) -> dict:
    started = time.perf_counter()
    render_fleet(build_fleet(big_host()), workdir / "hosts")
    host = workdir / "hosts" / "bighost"
    render_s = time.perf_counter() - started
    env = ansible_env({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"})
    result: dict = {}

    def module_run() -> None:
        proc = subprocess.run(_ansible_cmd(host), capture_output=True, text=True, env=env, timeout=900, check=False)
        data = json.loads(proc.stdout[proc.stdout.find("{") :])
        res = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
        if proc.returncode or res.get("failed"):
            raise RuntimeError(f"ap_facts failed: {res.get('msg')} {proc.stderr[-2000:]}")
        result["queues"] = len(res["ansible_facts"]["vfio_ap"]["queues"])
        result["warnings"] = len(res.get("warnings") or [])

    def plain_read() -> None:
        subprocess.run(f"find '{host}' -type f | xargs cat > /dev/null", shell=True, check=True)

    plain_times, module_times = [], []
    for _unused in range(ROUNDS):  # interleaved, so that load from other processes hits both alike
        plain_times.append(_timed(plain_read))
        module_times.append(_timed(module_run))
    plain_s, module_s = min(plain_times), min(module_times)
    gather_s = min(_timed(lambda: gather_facts(str(host))) for _unused in range(ROUNDS))

    # Peak RSS of the module process: keep the AnsiballZ payload of one more run and execute it again.
    remote = workdir / "remote-tmp"
    remote.mkdir()
    keep_env = dict(env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(remote))
    subprocess.run(_ansible_cmd(host), capture_output=True, text=True, env=keep_env, timeout=900, check=True)
    payloads = sorted(remote.rglob("AnsiballZ_ap_facts.py"))
    if not payloads:
        raise RuntimeError("ANSIBLE_KEEP_REMOTE_FILES left no AnsiballZ_ap_facts.py")
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(payloads[0])], capture_output=True, text=True, check=True)
    rc, peak_kb, out_bytes = (int(x) for x in out.stdout.split())
    if rc:
        raise RuntimeError(f"the kept AnsiballZ payload exited with {rc}")
    return {
        "queues": result["queues"],
        "warnings": result["warnings"],
        "render_s": round(render_s, 2),
        "plain_read_s": round(plain_s, 2),
        "module_s": round(module_s, 2),
        "ratio": round(module_s / plain_s, 2),
        "gather_s": round(gather_s, 2),
        "module_peak_rss_mb": round(peak_kb / 1024, 1),
        "facts_json_mb": round(out_bytes / 1e6, 2),
    }
