"""Benchmark: gathering ap_facts through ansible-playbook on a 256-adapter x 85-domain LPAR
(21,760 queues, ``apsim.generate.big_host``), side by side with s390-tools' ``lszcrypt -V`` on the
same tree and with an ``ansible.builtin.ping`` play (``make bench BENCH=facts``).

Figures (timings are the best of ``ROUNDS`` interleaved rounds, warm page cache):
- ``lszcrypt_v_s``: wall time of ``lszcrypt -V`` in the host's mount namespace (``apsim ns-exec``).
  The lszcrypt here is Debian's s390x build under qemu user-mode emulation
  (tools/s390-tools.sh), so its user-space part runs several times slower than on an s390x;
  ``lszcrypt_v_sys_s`` is its kernel (system) CPU time alone: the file reads and directory scans a
  native lszcrypt makes as well, so a lower bound of a native run's time;
- ``ping_playbook_s``: ``ansible-playbook`` of one play (``gather_facts: false``, connection local,
  localhost) with one ``ansible.builtin.ping`` task;
- ``facts_playbook_s``: the same play with one ``s390x.vfio_ap.ap_facts`` task (sysroot = the tree);
- ``*_cpu_s``: user + system CPU of the same runs (all their processes), less sensitive than wall
  time to other load on a shared machine;
- ``ratio`` = facts_playbook_s / (lszcrypt_v_s + ping_playbook_s) (target <= 2.0); ``ratio_cpu``
  the same from the CPU times; ``ratio_vs_lszcrypt_sys`` = facts_playbook_cpu_s /
  (lszcrypt_v_sys_s + ping_playbook_cpu_s), the strict reading: against a native lszcrypt that
  spent no user time at all;
- ``result_mb``: size of the module's result JSON (target <= 2 MB); ``fact_cache_100_hosts_mb`` =
  100 x result_mb, what an AWX/jsonfile fact cache holds for 100 such hosts;
- ``controller_peak_rss_mb``: peak RSS over ansible-playbook and every process it started for the
  facts play (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a fresh measuring process; with
  connection local that includes the module's own process, so it is at least module_peak_rss_mb;
  target <= 200 MB);
- ``module_peak_rss_mb``: peak RSS of the module process alone: the AnsiballZ payload Ansible ran
  (kept with ANSIBLE_KEEP_REMOTE_FILES) executed again in a child of a fresh measuring process;
- ``gather_s``: ``_facts.gather_facts`` alone, in-process (the module's own reading and parsing).

Stdout callback: ``ansible.builtin.default`` without ``-v``, which prints one ``ok: [localhost]``
line per task and not the result: what an ``ansible-playbook`` run from a shell or CI job pays.
AWX's own callback additionally serialises every result into its job events; the result size and
the 100-host fact cache figure stand for that cost. lszcrypt and the playbooks run with a warm page
cache (the tree was just written and read). Without lszcrypt (no root, or tools/s390-tools.sh
not run) the lszcrypt figures are the reason and the ratios are left out.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from apsim.fleet import build_fleet
from apsim.generate import big_host
from apsim.render import render_fleet
from helpers.ansible_run import VENV_BIN, ansible_env
from helpers.s390_tools import lszcrypt_argv, unavailable_reason

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Runs argv[1:] as a child; prints its exit code and the peak RSS (KiB) over all its descendants.
_MEASURE = r"""
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(proc.returncode, peak, len(proc.stdout))
"""


def _play(path: Path, task: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task]}]))
    return path


def _playbook_cmd(play: Path) -> list[str]:
    return [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}", str(play)]


def _run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Run argv to completion; return (wall s, user+system CPU s, system CPU s, stdout) of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    sys_s = after.ru_stime - before.ru_stime
    return wall, after.ru_utime - before.ru_utime + sys_s, sys_s, proc.stdout


def _best(samples: list[tuple[float, float, float, str]]) -> tuple[float, float, float]:
    """Return the least wall, CPU and system time over the samples (each its own minimum)."""
    return min(s[0] for s in samples), min(s[1] for s in samples), min(s[2] for s in samples)


def run(workdir: Path) -> dict:
    started = time.perf_counter()
    render_fleet(build_fleet(big_host()), workdir / "hosts")
    host = workdir / "hosts" / "bighost"
    render_s = time.perf_counter() - started
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    ping = _play(workdir / "ping.yml", {"name": "ping", "ansible.builtin.ping": {}})
    facts = _play(workdir / "facts.yml", {"name": "facts", "s390x.vfio_ap.ap_facts": {"sysroot": str(host)}})
    no_lszcrypt = unavailable_reason()

    samples: dict[str, list] = {"lszcrypt": [], "ping": [], "facts": []}
    lines = 0
    for _unused in range(ROUNDS):  # interleaved, so that load from other processes hits all alike
        if not no_lszcrypt:
            sample = _run(lszcrypt_argv(host, ["-V"]))
            lines = sample[3].count("\n")
            samples["lszcrypt"].append(sample)
        samples["ping"].append(_run(_playbook_cmd(ping), env))
        sample = _run(_playbook_cmd(facts), env)
        if "ok=1" not in sample[3]:
            raise RuntimeError(f"the facts play did not end ok: {sample[3][-1500:]}")
        samples["facts"].append(sample)
    ping_s, ping_cpu, _unused_sys = _best(samples["ping"])
    facts_s, facts_cpu, _unused_sys = _best(samples["facts"])
    gather_s = min(_time(lambda: gather_facts(str(host))) for _unused in range(ROUNDS))

    # Peak RSS of the controller side: the facts play under a fresh measuring process.
    out = subprocess.run([sys.executable, "-c", _MEASURE, *_playbook_cmd(facts)], capture_output=True, text=True, env=env, check=True)
    rc, controller_kb, _unused_len = (int(x) for x in out.stdout.split())
    if rc:
        raise RuntimeError(f"the measured facts play exited with {rc}")

    # The module process alone: keep the AnsiballZ payload of one more run and execute it again.
    remote = workdir / "remote-tmp"
    remote.mkdir()
    keep_env = dict(env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(remote))
    _run(_playbook_cmd(facts), keep_env)
    payloads = sorted(remote.rglob("AnsiballZ_ap_facts.py"))
    if not payloads:
        raise RuntimeError("ANSIBLE_KEEP_REMOTE_FILES left no AnsiballZ_ap_facts.py")
    out = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, str(payloads[0])], capture_output=True, text=True, check=True)
    rc, module_kb, result_bytes = (int(x) for x in out.stdout.split())
    if rc:
        raise RuntimeError(f"the kept AnsiballZ payload exited with {rc}")

    result_mb = result_bytes / 1e6
    figures: dict = {"render_s": round(render_s, 2), "rounds": ROUNDS}
    if no_lszcrypt:
        figures["lszcrypt_v_s"] = f"unavailable: {no_lszcrypt}"
    else:
        lsz_s, lsz_cpu, lsz_sys = _best(samples["lszcrypt"])
        figures.update(
            {
                "lszcrypt_v_lines": lines,
                "lszcrypt_v_s": round(lsz_s, 2),
                "lszcrypt_v_cpu_s": round(lsz_cpu, 2),
                "lszcrypt_v_sys_s": round(lsz_sys, 2),
            }
        )
    figures.update(
        {
            "ping_playbook_s": round(ping_s, 2),
            "ping_playbook_cpu_s": round(ping_cpu, 2),
            "facts_playbook_s": round(facts_s, 2),
            "facts_playbook_cpu_s": round(facts_cpu, 2),
        }
    )
    if not no_lszcrypt:
        figures.update(
            {
                "ratio": round(facts_s / (lsz_s + ping_s), 2),
                "ratio_cpu": round(facts_cpu / (lsz_cpu + ping_cpu), 2),
                "ratio_vs_lszcrypt_sys": round(facts_cpu / (lsz_sys + ping_cpu), 2),
            }
        )
    figures.update(
        {
            "result_mb": round(result_mb, 2),
            "fact_cache_100_hosts_mb": round(100 * result_mb, 1),
            "controller_peak_rss_mb": round(controller_kb / 1024, 1),
            "module_peak_rss_mb": round(module_kb / 1024, 1),
            "gather_s": round(gather_s, 2),
        }
    )
    return figures


def _time(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
