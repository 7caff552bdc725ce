#!/usr/bin/env python
"""Stress suite of the writer modules against the live simulator (issue 11, item 8).

Runs the modules that change a host (ap_mask, mdev, migratable) the way Ansible runs them on a
KVM host - the module file with its arguments as ``{"ANSIBLE_MODULE_ARGS": ...}`` - through
tests/stress/_shim.py, which watches every file-system change the module makes. Three parts:

- concurrency rounds: every writer against itself (different targets and identical twins) and
  against the others, N processes at once on one host;
- kill -9 at every write step of every writer, then the same run again, which must repair;
- the fault matrix: ENOSPC, EROFS, EACCES, ENOTDIR/EISDIR, odd lock files (dangling link, dead
  and live holder), ENOTCONN (a dead mount), sysroots that are missing, empty, a file, and
  absolute symlinks out of the sysroot, umask 000.

It prints one table of figures and writes a JSON report with an example of each finding.
Exit code 0 when every figure with a target is at target, 1 otherwise, 2 on a usage error.

    python tests/stress/runner.py [--rounds 100] [--procs 4] [--parts concurrency,kill,faults,drain]
                                  [--kill-stride 1] [--drain-rounds 6] [--report FILE] [--work DIR]

The drain part (tests/stress/drain.py) drains a host with the maintenance role under tampered
plans, hostile guest names and kill -9, with its own figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / ".collections"), str(ROOT / "tests")]

from apsim.live import LiveError, LiveFleet, start  # noqa: E402
from helpers.other_user import OTHER_UID, drop_to, module_path, payload, python_for, why_not  # noqa: E402

SHIM = HERE / "_shim.py"
MODULES = ROOT / "plugins" / "modules"
RULES = "etc/udev/rules.d/41-ap.rules"
GUARD = "etc/vfio_ap/migration-guard.json"
DEFS = "etc/mdevctl.d/matrix"
LOCK = "run/lock/s390apconfig.lock"
DEBRIS_RE = re.compile(r"(^|/)(\.[^/]*|s390apconfig\.lock)$")  # temporary files (hidden) and a left lock
MASK_RE = re.compile(r'ATTR\{[./]*bus/ap/(apmask|aqmask)\}="(0x[0-9a-fA-F]+)"')

# Figures, in table order; those in TARGETS must be 0.
FIGURES = ["rounds", "runs", "lost_updates", "spurious_failures", "tracebacks", "partial_states",
           "outside_writes", "debris", "hangs", "loose_modes"]  # fmt: skip
TARGETS = ["lost_updates", "spurious_failures", "tracebacks", "partial_states", "outside_writes", "debris", "hangs"]
# Seconds after which a run counts as hung and is killed: a hang guard, never a limit on slowness. A
# run waits at most for the AP configuration lock (95 s, _aplock.DEFAULT_TIMEOUT); on a loaded
# machine a run may take many times its usual second, which must not count against anything.
HANG_GUARD = 600.0


def uid(n: int) -> str:
    return f"5e550000-0000-4000-8000-{n:012x}"


U_HELD = uid(0x100)  # in use by a guest
U_FREE = uid(0x101)  # defined and active, no guest: the one mdev the jobs remove
V_MDEVS = [uid(0x200 + i) for i in range(6)]
FLEET: dict[str, Any] = {
    "hosts": {
        # The host every writer works on; guard mechanism (migration series v2: no per-mdev file).
        "s": {
            "migration": "kernel",
            "usage_domains": "0-31",
            "control_domains": "0-31",
            "apmask": "0-255",
            "aqmask": "0-15,32-255",  # 16-31 reserved for vfio_ap; 8-15 free for ap_mask to reserve
            "cards": [
                {"id": 1, "type": "CEX8C", "domains": "0-31"},
                {"id": 2, "type": "CEX8P", "domains": "0-31"},
                {"id": 3, "type": "CEX8A", "domains": "0-31"},
            ],  # fmt: skip
            "mdevs": [
                {"uuid": U_HELD, "adapters": [1], "domains": [16], "control_domains": [16], "guest": "held", "start": "auto"},
                {"uuid": U_FREE, "adapters": [1], "domains": [28], "start": "manual"},
            ],  # fmt: skip
        },
        # Migration series v1: each mdev has the migratable attribute.
        "v": {
            "migration": "attribute",
            "usage_domains": "0-15",
            "aqmask": "0-7,16-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
            "mdevs": [{"uuid": u, "adapters": [1], "domains": [8 + i], "migratable": 1} for i, u in enumerate(V_MDEVS)],
        },
        # Never the target of a run: anything that changes here is a write outside the sysroot.
        "c": {
            "migration": "kernel",
            "usage_domains": "0-15",
            "aqmask": "0-7,16-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
        },
    }
}


# ============================================================================ jobs and runs


@dataclass(frozen=True)
class Job:
    """One module run: module name, its arguments (without sysroot) and the host it targets."""

    module: str
    args: tuple[tuple[str, Any], ...]
    host: str = "s"

    @staticmethod
    def of(module: str, host: str = "s", **args: Any) -> Job:
        return Job(module, tuple(sorted((k, json.dumps(v)) for k, v in args.items())), host)

    def arguments(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.args}

    def label(self) -> str:
        return f"{self.module} {json.dumps(self.arguments(), sort_keys=True)}"


@dataclass
class Run:
    job: Job
    rc: int
    stdout: str
    stderr: str
    result: dict[str, Any]
    events: list[dict[str, Any]]
    killed: bool
    hung: bool
    sysroot: str

    @property
    def failed(self) -> bool:
        return self.rc != 0 or bool(self.result.get("failed")) or not self.result

    @property
    def traceback(self) -> bool:
        crashed = not self.result and not self.killed and not self.hung
        return "Traceback (most recent call last)" in (self.stdout + self.stderr) or crashed

    @property
    def steps(self) -> int:
        return sum(1 for e in self.events if not e["outside"])

    @property
    def outside(self) -> list[str]:
        return [p for e in self.events for p in e["outside"]]

    def reproducer(self) -> dict[str, Any]:
        return {"module": self.job.module, "args": dict(self.job.arguments(), sysroot=self.sysroot), "rc": self.rc,
                "msg": self.result.get("msg"), "stderr_tail": self.stderr[-600:]}  # fmt: skip


class Runner:
    """Starts module runs against a mounted fleet and observes the hosts."""

    def __init__(self, live: LiveFleet, backing: Path, work: Path, timeout: float):
        self.live, self.backing, self.work, self.timeout = live, backing, work, timeout
        self.counter = 0
        self.canary = work / "cwd"  # the modules' working directory: must stay empty
        self.canary.mkdir(parents=True, exist_ok=True)
        self.outside_dir = work / "outside"  # target of hostile symlinks: must stay empty
        self.outside_dir.mkdir(parents=True, exist_ok=True)
        # Per-run files (arguments, event log, temp dir) in a directory every user can reach: the EACCES
        # case runs a module as another user, and the work directory may sit below a private one.
        self.runs_dir = Path(tempfile.mkdtemp(prefix="vfio-ap-stress-runs-", dir="/tmp" if os.path.isdir("/tmp") else None))
        os.chmod(self.runs_dir, 0o755)

    def sysroot(self, host: str) -> str:
        return str(self.live.host_dir(host))

    def payload(self) -> Path:
        """Return a copy of the shim, the modules and what they import where another user can read it (made once).

        The checkout may sit below a private (0700) directory, such as a home directory, which the other
        user cannot enter; Ansible, too, copies a module to the host before running it.
        """
        dest = self.runs_dir / "payload"
        if not dest.exists():
            payload(dest, extra=(SHIM,))
        return dest

    def launch(self, job: Job, *, sysroot: str | None = None, kill_after: int = 0, umask: int | None = None,
               other_user: bool = False) -> tuple[subprocess.Popen, dict[str, Any]]:  # fmt: skip
        self.counter += 1
        run_dir = self.runs_dir / str(self.counter)
        scratch = run_dir / "tmp"
        scratch.mkdir(parents=True)
        os.chmod(run_dir, 0o777)
        os.chmod(scratch, 0o777)
        root = self.sysroot(job.host) if sysroot is None else sysroot
        args = dict(job.arguments(), sysroot=root, _ansible_tmpdir=str(scratch), _ansible_remote_tmp=str(scratch))
        (run_dir / "args.json").write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        events = run_dir / "events.jsonl"
        pythonpath = os.pathsep.join([str(ROOT / ".collections"), str(ROOT / "tests")])
        argv = [sys.executable, str(SHIM), str(MODULES / f"{job.module}.py"), str(run_dir / "args.json")]
        if other_user:  # uid 65534: its own interpreter, and a copy of everything it reads
            shipped = self.payload()
            pythonpath = str(shipped)
            argv = [*drop_to(OTHER_UID), str(python_for(OTHER_UID)), str(shipped / SHIM.name), str(module_path(shipped, job.module)),
                    str(run_dir / "args.json")]  # fmt: skip
        env = dict(os.environ, STRESS_SYSROOT=root, STRESS_SCRATCH=str(scratch), STRESS_EVENTS=str(events),
                   STRESS_KILL_AFTER=str(kill_after), TMPDIR=str(scratch), HOME=str(scratch),
                   PYTHONPATH=pythonpath, LANG="C.UTF-8")  # fmt: skip

        proc = subprocess.Popen(argv, cwd=self.canary, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, umask=-1 if umask is None else umask, start_new_session=True)  # fmt: skip
        return proc, {"job": job, "events": events, "sysroot": root, "run_dir": run_dir}

    def collect(self, proc: subprocess.Popen, info: dict[str, Any], timeout: float | None = None) -> Run:
        hung = False
        try:
            out, err = proc.communicate(timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            hung = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        result: dict[str, Any] = {}
        start_at = out.find("{")
        if start_at >= 0:
            with contextlib.suppress(ValueError):
                result = json.loads(out[start_at:].strip().splitlines()[0])
        events = []
        if info["events"].exists():
            events = [json.loads(line) for line in info["events"].read_text().splitlines() if line.strip()]
        shutil.rmtree(info["run_dir"], ignore_errors=True)
        return Run(info["job"], proc.returncode, out, err, result, events, proc.returncode == -signal.SIGKILL and not hung,
                   hung, info["sysroot"])  # fmt: skip

    def run(self, job: Job, **kwargs: Any) -> Run:
        timeout = kwargs.pop("timeout", None)
        return self.collect(*self.launch(job, **kwargs), timeout=timeout)

    def run_all(self, jobs: list[Job], **kwargs: Any) -> list[Run]:
        started = [self.launch(job, **kwargs) for job in jobs]
        return [self.collect(proc, info) for proc, info in started]

    # ------------------------------------------------------------------ observation

    def observe(self, host: str) -> tuple[dict[str, Any], list[str], list[str]]:
        """Return (flattened state, debris paths, loosely-moded paths created) of a host.

        The state is a dict of atomic facts, so that the effect of one run can be told from that of
        another: one key per mask bit (live and persistent), per mdev, per guard entry, per file.
        """
        facts: dict[str, Any] = {}
        sim = self.live.state(host)
        for name in ("apmask", "aqmask"):
            for n in sim[name]:
                facts[f"live.{name}.{n}"] = True
        for u, m in sim["mdevs"].items():
            facts[f"mdev.{u}"] = json.dumps(m, sort_keys=True)
        debris, loose = [], []
        base = self.backing / host
        for top in ("etc", "run"):
            for dirpath, dirnames, filenames in os.walk(base / top):
                rel_dir = os.path.relpath(dirpath, base)
                for d in list(dirnames):
                    p = Path(dirpath, d)
                    if p.is_symlink():
                        facts[f"link.{rel_dir}/{d}"] = os.readlink(p)
                        dirnames.remove(d)
                    else:
                        facts[f"dir.{rel_dir}/{d}"] = True
                        if p.stat().st_mode & 0o022:
                            loose.append(f"{rel_dir}/{d}")
                for f in filenames:
                    p = Path(dirpath, f)
                    rel = f"{rel_dir}/{f}"
                    if DEBRIS_RE.search(rel):
                        debris.append(rel)
                        continue
                    if p.is_symlink():
                        facts[f"link.{rel}"] = os.readlink(p)
                        continue
                    try:
                        data = p.read_bytes()
                    except OSError as exc:
                        facts[f"file.{rel}"] = f"<unreadable {exc.errno}>"
                        continue
                    if p.stat().st_mode & 0o022:
                        loose.append(rel)
                    if rel == RULES:
                        found = dict(MASK_RE.findall(data.decode(errors="replace")))
                        for name in ("apmask", "aqmask"):
                            if name not in found:
                                facts[f"rules.{name}"] = "<missing>"
                                continue
                            bits = int(found[name], 16)
                            width = (len(found[name]) - 2) * 4
                            for n in range(width):
                                if bits >> (width - 1 - n) & 1:
                                    facts[f"rules.{name}.{n}"] = True
                        facts["rules.present"] = True
                    elif rel == GUARD:
                        try:
                            doc = json.loads(data)
                            for u, entry in doc["mdevs"].items():
                                facts[f"guard.{u}"] = json.dumps({k: v for k, v in entry.items() if k != "changed"},
                                                                 sort_keys=True)  # fmt: skip
                            facts["guard.present"] = True
                        except (ValueError, KeyError, TypeError, AttributeError):
                            facts["guard.corrupt"] = data.decode(errors="replace")
                    else:
                        facts[f"file.{rel}"] = data.decode(errors="replace")
        return facts, debris, loose

    def outside_changes(self) -> list[str]:
        """Return files that appeared where no run may write: the runs' cwd and the symlink target."""
        found = []
        for d in (self.canary, self.outside_dir):
            for p in sorted(d.rglob("*")):
                found.append(f"{p} {p.read_bytes()!r:.80}" if p.is_file() and not p.is_symlink() else str(p))
        return found

    # ------------------------------------------------------------------ resetting

    def restore_path(self, host: str, rel: str) -> None:
        """Put one path of a host's etc/run tree back as it was in the baseline (absent if it was absent).

        Through the mount, so that the kernel's FUSE caches never show the modules the old tree.
        """
        path = self.live.host_dir(host) / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        saved = self.base_tree / host / rel
        if saved.is_dir() and not saved.is_symlink():
            shutil.copytree(saved, path, symlinks=True)
        elif saved.exists() or saved.is_symlink():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(saved, path, follow_symlinks=False)

    def baseline(self) -> None:
        """Remember each host's state and etc/run trees as the state every round starts from."""
        self.base_state = {h: self.live.state(h) for h in self.live.hosts}
        self.base_tree = self.work / "baseline"
        shutil.rmtree(self.base_tree, ignore_errors=True)
        for h in self.live.hosts:
            for top in ("etc", "run"):
                shutil.copytree(self.backing / h / top, self.base_tree / h / top, symlinks=True)

    def reset(self, host: str) -> None:
        """Bring a host back to the baseline (through its sysfs, and its backing etc/run trees)."""
        base = self.base_state[host]
        root = self.live.host_dir(host)
        now = self.live.state(host)
        _parents_fixed: set[str] = set()
        for u in now["mdevs"]:
            if u not in base["mdevs"]:
                _sysfs_write(root / "sys/devices/vfio_ap/matrix" / u / "remove", "1")
        for u, m in base["mdevs"].items():
            if u in now["mdevs"] and now["mdevs"][u]["migratable"] != m["migratable"] and m["migratable"] is not None:
                _sysfs_write(root / "sys/devices/vfio_ap/matrix" / u / "migratable", str(m["migratable"]))
            if u not in now["mdevs"]:  # removed by a job: create it again with its configuration
                _sysfs_write(root / "sys/devices/vfio_ap/matrix/mdev_supported_types/vfio_ap-passthrough/create", u)
                for attr, ids in (("adapter", m["adapters"]), ("domain", m["domains"]), ("control_domain", m["control_domains"])):
                    for n in ids:
                        _sysfs_write(root / "sys/devices/vfio_ap/matrix" / u / f"assign_{attr}", str(n))
        for name in ("apmask", "aqmask"):
            if now[name] != base[name]:
                bits = sum(1 << (255 - n) for n in base[name])
                _sysfs_write(root / "sys/bus/ap" / name, f"0x{bits:064x}")
        # Only what differs from the baseline is put back, through the mount (see restore_path).
        current, saved = _tree(self.backing / host), _tree(self.base_tree / host)
        for rel in sorted(set(current) | set(saved), key=lambda r: (r.count("/"), r)):
            if current.get(rel) != saved.get(rel) and not any(rel.startswith(p + "/") for p in _parents_fixed):
                self.restore_path(host, rel)
                _parents_fixed.add(rel)
        for d in (self.canary, self.outside_dir):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        after = self.live.state(host)
        if after != base:
            raise RuntimeError(f"host {host} could not be reset to the baseline: {_diff(base, after)}")


def rules_text(apmask: list[int], aqmask: list[int]) -> str:
    """Return a persistent AP mask rules file in the layout chzdev --type ap writes."""
    ap = f"0x{sum(1 << (255 - n) for n in apmask):064x}"
    aq = f"0x{sum(1 << (255 - n) for n in aqmask):064x}"
    return (
        'ACTION=="add", SUBSYSTEM=="ap", DEVPATH=="/bus/ap", ATTR{bindings_complete_count}!="0", GOTO="cfg_ap"\n'
        'ACTION=="change", SUBSYSTEM=="ap", DEVPATH=="/devices/ap", ENV{BINDINGS}=="complete", ENV{COMPLETECOUNT}=="1", '
        'GOTO="cfg_ap"\n'
        'GOTO="end_ap"\n\nLABEL="cfg_ap"\n'
        f'ATTR{{../../bus/ap/apmask}}="{ap}"\nATTR{{../../bus/ap/aqmask}}="{aq}"\n'
        'RUN{builtin}+="kmod load vfio_ap"\n\nLABEL="end_ap"\n'
    )


def _tree(base: Path) -> dict[str, Any]:
    """Return {relative path: ("dir"|"link"|"file", link target or content, mode)} of base's etc/ and run/."""
    found: dict[str, Any] = {}
    for top in ("etc", "run"):
        start = base / top
        if start.is_symlink() or not start.is_dir():
            found[top] = ("link", os.readlink(start), 0) if start.is_symlink() else ("file", start.read_bytes(), 0) \
                if start.exists() else None  # fmt: skip
            continue
        found[top] = ("dir", None, start.stat().st_mode)
        for dirpath, dirnames, filenames in os.walk(start):
            for name in dirnames + filenames:
                p = Path(dirpath, name)
                rel = str(p.relative_to(base))
                st = p.lstat()
                if p.is_symlink():
                    found[rel] = ("link", os.readlink(p), 0)
                elif p.is_dir():
                    found[rel] = ("dir", None, st.st_mode)
                else:
                    try:
                        found[rel] = ("file", p.read_bytes(), st.st_mode)
                    except OSError:
                        found[rel] = ("file", None, st.st_mode)
    return found


def _sysfs_write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Return {key: [before, after]} of the keys whose value differs (None = absent)."""
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


# ============================================================================ figures


@dataclass
class Figures:
    """Counts per section and examples of every finding (with a reproducer)."""

    counts: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, section: str, figure: str, n: int = 1, example: dict[str, Any] | None = None) -> None:
        self.counts.setdefault(section, Counter())[figure] += n
        if example is not None and n:
            found = self.examples.setdefault(f"{section}: {figure}", [])
            if len(found) < 5:
                found.append(example)

    def total(self, figure: str) -> int:
        return sum(c[figure] for c in self.counts.values())

    def common(self, section: str, runs: list[Run], runner: Runner, seeded: frozenset[str] = frozenset()) -> None:
        """Count the figures every run contributes: runs, tracebacks, hangs, outside writes."""
        self.add(section, "runs", len(runs))
        for r in runs:
            if r.traceback:
                self.add(section, "tracebacks", 1, r.reproducer() | {"output": (r.stdout + r.stderr)[-1500:]})
            if r.hung:
                hang = f"still running after {runner.timeout:.0f} s (the hang guard), killed"
                self.add(section, "hangs", 1, r.reproducer() | {"hang": hang})
            if r.outside:
                self.add(section, "outside_writes", len(r.outside), r.reproducer() | {"paths": r.outside})
        seen = [p for p in runner.outside_changes() if p not in seeded]
        if seen:
            self.add(section, "outside_writes", len(seen), {"files": seen[:10], "runs": [r.reproducer() for r in runs]})

    def brief(self, section: str) -> str:
        """Return the section's non-zero target figures in one line ("at target" when there are none)."""
        found = [f"{f.replace('_', ' ')} {self.counts[section][f]}" for f in TARGETS if self.counts.get(section, Counter())[f]]
        return ", ".join(found) or "at target"

    def table(self) -> str:
        sections = list(self.counts)
        width = max([len(s) for s in sections] + [12])
        cols = FIGURES
        head = f"{'section':<{width}} " + " ".join(f"{c.replace('_', ' '):>9.9}" for c in cols)
        lines = [head, "-" * len(head)]
        for s in sections:
            lines.append(f"{s:<{width}} " + " ".join(f"{self.counts[s][c]:>9}" for c in cols))
        lines.append("-" * len(head))
        lines.append(f"{'TOTAL':<{width}} " + " ".join(f"{self.total(c):>9}" for c in cols))
        lines.append(f"{'target':<{width}} " + " ".join(f"{'0' if c in TARGETS else '-':>9}" for c in cols))
        return "\n".join(lines)

    def missed(self) -> list[str]:
        return [f for f in TARGETS if self.total(f)]

    def as_dict(self) -> dict[str, Any]:
        return {"totals": {f: self.total(f) for f in FIGURES}, "targets": TARGETS, "missed": self.missed(),
                "sections": {s: dict(c) for s, c in self.counts.items()}, "examples": self.examples}  # fmt: skip


def progress(message: str) -> None:
    print(f"[stress {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ============================================================================ the scenarios


def writer_jobs() -> dict[str, Job]:
    """One representative job per writer and mode (each works alone from the baseline)."""
    return {
        "ap_mask": Job.of("ap_mask", domains=[8]),
        "ap_mask persistent": Job.of("ap_mask", domains=[9], persistent=True),
        "ap_mask release persistent": Job.of("ap_mask", domains=[31], state="released", persistent=True),
        "ap_mask remove rule": Job.of("ap_mask", domains=[30], state="released", remove_rule=True),
        "mdev": Job.of("mdev", uuid=uid(1), adapters=[2], domains=[17], control_domains=[17]),
        "mdev persistent": Job.of("mdev", uuid=uid(2), adapters=[2, 3], domains=[18], persistent=True),
        "mdev manual persistent": Job.of("mdev", uuid=uid(3), adapters=[3], domains=[19], persistent=True, start="manual"),
        "mdev absent persistent": Job.of("mdev", uuid=U_FREE, state="absent", persistent=True),
        "migratable guard": Job.of("migratable", uuid=uid(0x300), state="disabled", reason="stress"),
        "migratable attribute": Job.of("migratable", host="v", uuid=V_MDEVS[0], state="disabled"),
    }


def concurrency_scenarios(procs: int) -> dict[str, list[Job]]:
    """Name -> the jobs started at once in one round."""
    n = procs
    return {
        "ap_mask x N": [Job.of("ap_mask", domains=[8 + i]) for i in range(n)],
        "ap_mask persistent x N": [Job.of("ap_mask", domains=[8 + i], persistent=True) for i in range(n)],
        "ap_mask persistent twins": [Job.of("ap_mask", domains=[12, 13], persistent=True)] * n,
        "ap_mask release persistent x N": [
            Job.of("ap_mask", domains=[29 + i], state="released", persistent=True) for i in range(min(n, 3))
        ],  # fmt: skip
        "ap_mask remove rule twins": [Job.of("ap_mask", domains=[30], state="released", remove_rule=True)] * n,
        "mdev x N": [Job.of("mdev", uuid=uid(0x10 + i), adapters=[2], domains=[20 + i]) for i in range(n)],
        "mdev twins": [Job.of("mdev", uuid=uid(0x20), adapters=[2, 3], domains=[24], control_domains=[24])] * n,
        "mdev persistent x N": [
            Job.of("mdev", uuid=uid(0x30 + i), adapters=[3], domains=[20 + i], persistent=True) for i in range(n)
        ],  # fmt: skip
        "mdev persistent twins": [Job.of("mdev", uuid=uid(0x40), adapters=[3], domains=[25], persistent=True)] * n,
        "migratable guard x N": [Job.of("migratable", uuid=uid(0x300 + i), reason=f"r{i}") for i in range(n)],
        "migratable guard twins": [Job.of("migratable", uuid=uid(0x310), reason="same")] * n,
        "migratable attribute x N": [Job.of("migratable", host="v", uuid=V_MDEVS[i % len(V_MDEVS)]) for i in range(n)],
        "all writers at once": [
            Job.of("ap_mask", domains=[14], persistent=True),
            Job.of("ap_mask", domains=[15]),
            Job.of("mdev", uuid=uid(0x50), adapters=[2], domains=[26], persistent=True),
            Job.of("mdev", uuid=uid(0x51), adapters=[3], domains=[27]),
            Job.of("migratable", uuid=uid(0x320), reason="mixed"),
            Job.of("ap_mask", domains=[10], persistent=True),
        ][: max(n + 2, 4)],
    }


class Suite:
    def __init__(self, runner: Runner, figures: Figures, only: str = ""):
        self.runner, self.figures, self.only = runner, figures, only
        self.solo: dict[Job, tuple[dict[str, Any], dict[str, Any]]] = {}  # job -> (before, after) facts

    def selected(self, section: str) -> bool:
        """Return whether a section is to run (its name contains the --only text, or no --only was given)."""
        return self.only.lower() in section.lower()

    def reference(self, job: Job) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run job alone from the baseline (once); return (before, after) facts of its host."""
        if job not in self.solo:
            self.runner.reset(job.host)
            before, _d, _l = self.runner.observe(job.host)
            run = self.runner.run(job)
            if run.failed:
                raise RuntimeError(f"reference run of {job.label()} failed: {run.result.get('msg') or run.stderr[-800:]}")
            after, _d, _l = self.runner.observe(job.host)
            if after == before:
                raise RuntimeError(f"reference run of {job.label()} changed nothing")
            self.solo[job] = (before, after)
        return self.solo[job]

    # ------------------------------------------------------------------ concurrency

    def concurrency(self, rounds: int, procs: int) -> None:
        for name, jobs in concurrency_scenarios(procs).items():
            section = f"concurrency: {name}"
            if not self.selected(section):
                continue
            hosts = sorted({j.host for j in jobs})
            effects = {j: _diff(*self.reference(j)) for j in set(jobs)}
            self.figures.add(section, "rounds", 0)
            started = time.monotonic()
            for r in range(rounds):
                for h in hosts:
                    self.runner.reset(h)
                before = {h: self.runner.observe(h)[0] for h in hosts}
                runs = self.runner.run_all(jobs)
                self.figures.add(section, "rounds")
                self.figures.common(section, runs, self.runner)
                after = {h: self.runner.observe(h) for h in hosts}
                ok = [run for run in runs if not run.failed]
                for run in runs:
                    if run.failed and not run.hung:
                        twin = sum(1 for o in ok if o.job == run.job)
                        self.figures.add(section, "spurious_failures", 1,
                                         run.reproducer() | {"round": r, "twins_ok": twin})  # fmt: skip
                expected = {h: dict(before[h]) for h in hosts}
                for run in ok:
                    facts = after[run.job.host][0]
                    lost = {k: [v[1], facts.get(k)] for k, v in effects[run.job].items() if facts.get(k) != v[1]}
                    if lost:
                        self.figures.add(section, "lost_updates", 1, run.reproducer() | {"round": r, "lost": lost})
                    for k, v in effects[run.job].items():
                        if v[1] is None:
                            expected[run.job.host].pop(k, None)
                        else:
                            expected[run.job.host][k] = v[1]
                for h in hosts:
                    facts, debris, _loose = after[h]
                    explained = set().union(*(effects[j].keys() for j in set(jobs) if j.host == h))
                    stray = {k: v for k, v in _diff(before[h], facts).items() if k not in explained}
                    if stray:
                        self.figures.add(section, "partial_states", 1, {"round": r, "host": h, "unexplained": stray})
                    if debris:
                        self.figures.add(section, "debris", len(debris), {"round": r, "host": h, "files": debris})
                self._canary(section)
            progress(f"{section}: {rounds} rounds x {len(jobs)} runs in {time.monotonic() - started:.1f} s; " + self.figures.brief(section))

    def _canary(self, section: str) -> None:
        facts, debris, _l = self.runner.observe("c")
        if not hasattr(self, "_canary_facts"):
            self._canary_facts = facts
        elif facts != self._canary_facts or debris:
            self.figures.add(section, "outside_writes", 1, {"canary host changed": _diff(self._canary_facts, facts)})

    # ------------------------------------------------------------------ kill -9 at every write step

    def kills(self, stride: int) -> None:
        for name, job in writer_jobs().items():
            section = f"kill -9: {name}"
            if not self.selected(section):
                continue
            before, after = self.reference(job)
            self.runner.reset(job.host)
            counted = self.runner.run(job)
            steps = counted.steps
            started = time.monotonic()
            points = list(range(1, steps + 1, stride))
            if steps and points[-1] != steps:
                points.append(steps)
            for k in points:
                self.runner.reset(job.host)
                killed = self.runner.run(job, kill_after=k)
                repair = self.runner.run(job)
                self.figures.add(section, "rounds")
                self.figures.common(section, [killed, repair], self.runner)
                facts, debris, _l = self.runner.observe(job.host)
                ctx = {"kill_after_step": k, "of_steps": steps, "step": _step(killed, k), "killed": killed.killed}
                if repair.failed:
                    self.figures.add(section, "spurious_failures", 1, repair.reproducer() | ctx)
                if facts != after:
                    found = {"differs_from_intended": _diff(after, facts), "repair": repair.reproducer()}
                    self.figures.add(section, "partial_states", 1, ctx | found)
                if debris:
                    self.figures.add(section, "debris", len(debris), ctx | {"files": debris})
                self._canary(section)
            progress(f"{section}: {len(points)} kill points of {steps} write steps in {time.monotonic() - started:.1f} s")

    # ------------------------------------------------------------------ the fault matrix

    def faults(self, quick: bool) -> None:
        jobs = writer_jobs()
        writers = [jobs[k] for k in ("ap_mask", "ap_mask persistent", "ap_mask remove rule", "mdev", "mdev persistent", "migratable guard")]
        backing = self.runner.backing / "s"
        for index, (case, setup, which) in enumerate(fault_cases(self.runner, backing)):
            section = f"fault: {case}"
            if not self.selected(section):
                continue
            if case in NEEDS_ROOT and os.geteuid() != 0:
                progress(f"{section}: skipped (mounting a file system or changing user needs root)")
                continue
            if case == OTHER_USER_CASE and why_not(OTHER_UID):
                progress(f"{section}: skipped ({why_not(OTHER_UID)})")
                continue
            started = time.monotonic()
            chosen = [w for w in writers if which(w)]
            # Quick: one writer per case, a different one each time; but every writer where the fault
            # is in etc/ (each writes its own file there) and for the cheap sysroot cases.
            if quick and not case.startswith("sysroot") and which is not _persistent:
                chosen = [chosen[index % len(chosen)]]
            for job in chosen:
                before_ref, after_ref = self.reference(job)
                self.runner.reset(job.host)
                with setup() as spec:
                    before, made, base_loose = self.runner.observe(job.host) if spec.get("observe", True) else ({}, [], [])
                    run = self.runner.run(job, **spec.get("run", {}))
                    self.figures.add(section, "rounds")
                    self.figures.common(section, [run], self.runner, spec.get("seeded", frozenset()))
                    if spec.get("observe", True):
                        facts, debris, loose = self.runner.observe(job.host)
                        ctx = run.reproducer() | {"fault": case}
                        if run.failed and facts != before:
                            self.figures.add(section, "partial_states", 1, ctx | {"changed_although_failed": _diff(before, facts)})
                        if not run.failed and spec.get("must_fail"):
                            self.figures.add(section, "partial_states", 1, ctx | {"succeeded_although": spec["must_fail"]})
                        if not run.failed and not spec.get("must_fail"):
                            want = dict(before)
                            for k, v in _diff(before_ref, after_ref).items():
                                if v[1] is None:
                                    want.pop(k, None)
                                else:
                                    want[k] = v[1]
                            if _diff(want, facts):
                                self.figures.add(section, "partial_states", 1, ctx | {"differs_from_intended": _diff(want, facts)})
                        if spec.get("check_modes"):
                            bad = [p for p in loose if p not in base_loose]
                            if bad:
                                self.figures.add(section, "loose_modes", len(bad), ctx | {"paths": bad})
                        debris = [d for d in debris if d not in made]  # the fault's own odd lock file is not debris
                        if debris and not run.hung:
                            self.figures.add(section, "debris", len(debris), ctx | {"files": debris})
                    if spec.get("must_fail") and not run.failed and not spec.get("observe", True):
                        self.figures.add(section, "partial_states", 1, run.reproducer() | {"succeeded_although": spec["must_fail"]})
                if spec.get("repair", True):
                    repair = self.runner.run(job)
                    self.figures.common(section, [repair], self.runner)
                    facts, debris, _l = self.runner.observe(job.host)
                    if repair.failed:
                        self.figures.add(section, "spurious_failures", 1, repair.reproducer() | {"after_fault": case})
                    elif facts != after_ref:
                        self.figures.add(section, "partial_states", 1, repair.reproducer() |
                                         {"after_fault": case, "differs_from_intended": _diff(after_ref, facts)})  # fmt: skip
                    if debris:
                        self.figures.add(section, "debris", len(debris), {"after_fault": case, "files": debris})
            self._canary(section)
            progress(f"{section} in {time.monotonic() - started:.1f} s")


def _step(run: Run, k: int) -> str:
    for e in run.events:
        if e["step"] == k:
            return f"{e['event']} {' -> '.join(e['paths'])}"
    return "?"


# ============================================================================ fault cases


def _mount(*argv: str) -> None:
    subprocess.run(["mount", *argv], check=True, capture_output=True, text=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def _every(job: Job) -> bool:
    """Return True: the fault applies to every writer."""
    return True


def _persistent(job: Job) -> bool:
    """Return whether the job writes files under etc/ (persistent masks or definitions, the guard, removing the rule)."""
    return bool(job.arguments().get("persistent") or job.arguments().get("remove_rule")) or job.module == "migratable"


def _only(*modules: str, persistent: bool = False):
    """Return a job filter: the job's module is one of modules (and, if asked, it writes under etc/)."""

    def which(job: Job) -> bool:
        return job.module in modules and (not persistent or _persistent(job))

    return which


OTHER_USER_CASE = "EACCES (another user)"
NEEDS_ROOT = {"ENOSPC in etc/", "ENOSPC in run/", "EROFS etc/", "EROFS run/", OTHER_USER_CASE}


def fault_cases(runner: Runner, backing: Path):
    """Yield (name, setup context manager factory, job filter) for each fault.

    Faults in the tree are made through the mount (host), file-system faults (a full or read-only
    file system) under the simulator's backing directory (backing), where the kernel raises them.
    """
    host = runner.live.host_dir("s")
    every, persistent = _every, _persistent

    def case(fn):
        return contextlib.contextmanager(fn)

    @case
    def enospc(top: str):
        target = backing / top
        keep = runner.work / f"keep-{top}"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(target, keep, symlinks=True)
        _mount("-t", "tmpfs", "-o", "size=256k,mode=0755", "stress-enospc", str(target))
        try:
            shutil.copytree(keep, target, symlinks=True, dirs_exist_ok=True)
            with contextlib.suppress(OSError), open(target / ".fill", "wb") as fh:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            with contextlib.suppress(OSError), open(target / ".fill2", "wb") as fh:
                while True:
                    fh.write(b"\0" * 512)
                    fh.flush()
            yield {}
        finally:
            _umount(target)

    @case
    def erofs(top: str):
        target = backing / top
        _mount("--bind", str(target), str(target))
        try:
            _mount("-o", "remount,bind,ro", str(target))
            yield {}
        finally:
            _umount(target)

    @case
    def replace(rel: str, kind: str, value: str = ""):
        path = host / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "file":
            path.write_text(value)
        elif kind == "dir":
            path.mkdir()
        elif kind == "link":
            path.symlink_to(value)
        try:
            yield {}
        finally:
            runner.restore_path("s", rel)

    @case
    def dead_holder():
        proc = subprocess.Popen(["true"])
        proc.wait()
        (host / LOCK).write_text(f"{proc.pid}\n")
        try:
            yield {}
        finally:
            runner.restore_path("s", LOCK)

    @case
    def live_holder(release_after: float):
        proc = subprocess.Popen(["sleep", "300"])
        (host / LOCK).write_text(f"{proc.pid}\n")

        def release() -> None:
            time.sleep(release_after)
            with contextlib.suppress(FileNotFoundError):
                (host / LOCK).unlink()

        import threading

        thread = threading.Thread(target=release, daemon=True)
        thread.start()
        try:
            yield {}
        finally:
            thread.join()
            proc.kill()
            proc.wait()
            runner.restore_path("s", LOCK)

    @case
    def sysroot(kind: str):
        base = runner.canary
        spec: dict[str, Any] = {"observe": True, "must_fail": f"the sysroot is {kind}", "repair": False}
        if kind == "missing":
            spec["run"] = {"sysroot": str(base / "missing-root")}
        elif kind == "empty":
            spec["run"] = {"sysroot": ""}
        elif kind == "a file":
            (runner.work / "root-file").write_text("not a directory\n")
            spec["run"] = {"sysroot": str(runner.work / "root-file")}
        yield spec
        (runner.work / "root-file").unlink(missing_ok=True)

    @case
    def escape(rel: str):
        # An absolute symlink inside the sysroot pointing out of it: no write may follow it.
        path = host / rel
        if path.is_dir():
            shutil.copytree(path, runner.outside_dir / "seed", dirs_exist_ok=True)
            shutil.rmtree(path)
        else:
            (runner.outside_dir / "seed").mkdir(exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(runner.outside_dir / "seed")
        seeded = frozenset(runner.outside_changes())
        try:
            yield {"seeded": seeded}
        finally:
            runner.restore_path("s", rel)
            shutil.rmtree(runner.outside_dir / "seed", ignore_errors=True)

    @case
    def dead_mount():
        mnt = runner.work / "dead"
        live = start(FLEET, mnt)
        os.kill(live.pid, signal.SIGKILL)
        time.sleep(0.2)
        try:
            yield {"observe": False, "repair": False, "must_fail": "the mount is dead (ENOTCONN)",
                   "run": {"sysroot": str(mnt / "s")}}  # fmt: skip
        finally:
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False, capture_output=True)

    @case
    def unprivileged():
        # A user other than the mount's owner: every access to the FUSE mount is EACCES.
        yield {"must_fail": "the user cannot access the sysroot (EACCES)", "repair": True, "run": {"other_user": True}}

    @case
    def umask0():
        yield {"run": {"umask": 0}, "check_modes": True}

    only = _only
    cases = [
        ("ENOSPC in etc/", lambda: enospc("etc"), persistent),
        ("ENOSPC in run/", lambda: enospc("run"), every),
        ("EROFS etc/", lambda: erofs("etc"), persistent),
        ("EROFS run/", lambda: erofs("run"), every),
        (OTHER_USER_CASE, unprivileged, every),
        ("ENOTDIR: run/lock is a file", lambda: replace("run/lock", "file", "x\n"), every),
        ("EISDIR: the lock is a directory", lambda: replace(LOCK, "dir"), every),
        ("EISDIR: the guard is a directory", lambda: replace(GUARD, "dir"), only("migratable")),
        ("ENOTDIR: mdevctl.d/matrix is a file", lambda: replace(DEFS, "file", "x\n"), _only("mdev", persistent=True)),
        ("EISDIR: 41-ap.rules is a directory", lambda: replace(RULES, "dir"), _only("ap_mask", persistent=True)),
        ("dangling-link lock", lambda: replace(LOCK, "link", "s390apconfig.gone"), every),
        ("dead lock holder", dead_holder, every),
        ("live lock holder releasing after 2 s", lambda: live_holder(2.0), every),
        ("ENOTCONN: dead mount", dead_mount, every),
        ("sysroot missing", lambda: sysroot("missing"), every),
        ("sysroot empty string", lambda: sysroot("empty"), every),
        ("sysroot is a file", lambda: sysroot("a file"), every),
        ("absolute symlink etc/vfio_ap -> outside", lambda: escape("etc/vfio_ap"), only("migratable")),
        ("absolute symlink run/lock -> outside", lambda: escape("run/lock"), every),
        ("absolute symlink rules.d -> outside", lambda: escape("etc/udev/rules.d"), _only("ap_mask", persistent=True)),
        ("absolute symlink mdevctl.d/matrix -> outside", lambda: escape(DEFS), _only("mdev", persistent=True)),
        ("umask 000", umask0, persistent),
    ]
    yield from cases


# ============================================================================ main


def _unmount(live: LiveFleet) -> None:
    """Unmount the fleet; a server slow to exit on a loaded machine is a note, not a lost report."""
    try:
        live.unmount()
    except LiveError as exc:
        progress(f"note: {exc}")


def run_suite(rounds: int = 100, procs: int = 4, parts: tuple[str, ...] = ("concurrency", "kill", "faults"),
              kill_stride: int = 1, quick_faults: bool = False, work: Path | None = None,
              timeout: float = HANG_GUARD, only: str = "", figures: Figures | None = None) -> Figures:  # fmt: skip
    """Mount the stress fleet, run the parts asked for, unmount; return the figures (also kept in figures)."""
    figures = Figures() if figures is None else figures
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vfio-ap-stress-")))
        work.mkdir(parents=True, exist_ok=True)
        backing = work / "backing"
        live = start(FLEET, work / "mnt", backing=backing)
        stack.callback(_unmount, live)
        runner = Runner(live, backing, work, timeout)
        stack.callback(shutil.rmtree, runner.runs_dir, True)
        for host in live.hosts:  # persistent masks equal to the active ones, so a run's effect is one bit each
            state = live.state(host)
            rules = live.host_dir(host) / RULES
            rules.parent.mkdir(parents=True, exist_ok=True)
            rules.write_text(rules_text(state["apmask"], state["aqmask"]))
        runner.baseline()
        suite = Suite(runner, figures, only)
        if "concurrency" in parts:
            suite.concurrency(rounds, procs)
        if "kill" in parts:
            suite.kills(kill_stride)
        if "faults" in parts:
            suite.faults(quick_faults)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("STRESS_ROUNDS", 100)),
                        help="concurrency rounds per scenario (default 100, or $STRESS_ROUNDS)")  # fmt: skip
    parser.add_argument("--procs", type=int, default=4, help="processes at once per round, 2 to 4 (default 4)")
    parser.add_argument(
        "--parts", default="concurrency,kill,faults,drain", help="comma-separated: concurrency,kill,faults,drain (tests/stress/drain.py)"
    )
    parser.add_argument("--drain-rounds", type=int, default=6, help="rounds of the drain part (default 6)")
    parser.add_argument("--kill-stride", type=int, default=1, help="kill after every k-th write step (default 1: every step)")
    parser.add_argument(
        "--quick-faults",
        action="store_true",
        help="one writer per fault case (taking turns; every writer for faults in etc/) instead of every writer",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=HANG_GUARD,
        help=f"seconds before a run counts as hung and is killed (default {HANG_GUARD:.0f}): a hang guard, far above any "
        "legitimate run (the longest waits 95 s for the lock), never a limit on slowness",
    )
    parser.add_argument("--only", default="", help="run only the sections whose name contains this text")
    parser.add_argument("--report", help="write the figures and examples as JSON here")
    parser.add_argument("--work", help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like an interrupt: the mount is unmounted and the work directory removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parts = tuple(p for p in args.parts.split(",") if p)
    unknown = set(parts) - {"concurrency", "kill", "faults", "drain"}
    if unknown or args.rounds < 1 or not 2 <= args.procs <= 4 or args.kill_stride < 1 or args.drain_rounds < 1:
        parser.error(f"bad arguments: parts {sorted(unknown) or 'ok'}, rounds {args.rounds}, procs {args.procs}")
    started = time.monotonic()
    progress(f"rounds {args.rounds} x {args.procs} processes; parts {', '.join(parts)}")
    from stress.drain import Figures as DrainFigures, run_drain_suite  # the drain part (its own fleet and figures)

    figures, drained, interrupted = Figures(), DrainFigures(), False
    writers = tuple(p for p in parts if p != "drain")
    try:
        if writers:
            run_suite(args.rounds, args.procs, writers, args.kill_stride, args.quick_faults,
                      Path(args.work) if args.work else None, args.timeout, args.only, figures)  # fmt: skip
        if "drain" in parts:
            run_drain_suite(args.drain_rounds, None, Path(args.work) / "drain" if args.work else None, drained)
    except (KeyboardInterrupt, SystemExit):
        print("\ninterrupted: the figures so far", flush=True)
        interrupted = True
    print()
    if writers:
        print(figures.table())
    if "drain" in parts:
        print(drained.table())
    missed = figures.missed() + [f"drain {f}" for f in drained.missed()]
    print(f"\n{time.monotonic() - started:.0f} s; " + (f"targets missed: {', '.join(missed)}" if missed else "all targets met"))
    if args.report:
        Path(args.report).write_text(json.dumps({**figures.as_dict(), "drain": drained.as_dict()}, indent=2, default=str) + "\n")
        print(f"report: {args.report}")
    return 1 if missed or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
