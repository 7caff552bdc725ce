#!/usr/bin/env python
"""Stress of the drain (the maintenance role) on the live simulator: tampered plans, hostile names, kill -9.

Every round mounts a small fleet - ``s1`` goes into maintenance, ``d1`` and ``d2`` hold landing
mdevs for its guests, ``d1`` also runs a bystander guest - whose guests have hostile names
(``--domain=evil``, ``<img onerror=...>``, ``g$(touch pwned)``, a number virsh would read as a
domain ID, a bidirectional override, ...), then drains ``s1`` with ``playbooks/pre_maintenance.yml``
as an operator would, migrating through the simulator's ``virsh`` (tests/apsim) behind a wrapper
that can ``kill -9`` the whole run (ansible-playbook and every process below it) at the k-th ``virsh migrate``
(before the migration, or after it and before virsh returns). Two kinds of rounds:

- **tamper**: the approved plan (the evacuation.json a plan-only run writes, computed in-process
  from the same fleet) is tampered with at random (another guest's name, a bystander's entry, an
  entry twice, null or numeric entries, another host's plan, a destination going down, 200,000
  entries, or harmless edits: an entry dropped, the order changed) and executed. A tampered plan
  must be refused before anything changes; a harmless edit is executed as it stands.
- **kill**: a drain (with an approved plan or planning itself; source-mdev policy keep, stop or
  undefine at random) is killed at a random ``virsh migrate``; the same command is run again,
  which must finish the drain.

After each round the figures compare the simulator's state (where each guest's libvirt status
XML is, which mdevs and mdevctl definitions exist) and the last ``evacuation.json`` with what must
hold; every figure with a target must be 0:

| figure | counted when |
|---|---|
- moved not planned: a guest changed host although no executed plan moved it (a bystander, an
  entry dropped, any move of a refused run);
- on two hosts: a guest runs on more than one host (status XML or an mdev in use by it);
- lost: a guest runs nowhere;
- debris: a source mdev (``stop``) or its definition too (``undefine``) left behind by a guest
  that left, a hidden temporary file under ``etc/`` or ``run/``, or a refused run that changed a host;
- false rows: a report row contradicting the state (moved but not there, stayed but gone, a host
  called empty that is not), or a guest of ``s1`` the report leaves out;
- unfinished: after the last run a guest with a ready destination and a name virsh takes is still
  on ``s1``, or a tampered plan was executed / a harmless one refused;
- tracebacks: "Traceback" in a run's output.

    python tests/stress/drain.py [--rounds 6] [--seed N] [--report F.json] [--work DIR]

A wall clock never decides: a run is waited for as long as it takes.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import random
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

from apsim.live import LiveError, start  # noqa: E402
from helpers.ansible_run import ansible_env, local_inventory  # noqa: E402
from helpers.fleet_facts import facts_for_fleet  # noqa: E402

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import guest_name_problem  # noqa: E402
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document  # noqa: E402
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan  # noqa: E402
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan  # noqa: E402

PLAYBOOK = ROOT / "playbooks" / "pre_maintenance.yml"
VIRSH = ROOT / "tests" / "apsim" / "bin" / "virsh"
FIGURES = ["rounds", "runs", "kills", "moved_not_planned", "on_two_hosts", "lost", "debris", "false_rows", "unfinished", "tracebacks"]
TARGETS = ["moved_not_planned", "on_two_hosts", "lost", "debris", "false_rows", "unfinished", "tracebacks"]
# Names libvirt accepts; the drain must migrate each as itself.
NAMES = ["--domain=evil", "-x", "<img src=x onerror=alert(1)>", "g$(touch pwned)", "it's", "a|b c", "`id`", "Grüße", "web1",
         "[l](javascript:x)", "&amp;", "--", "*"]  # fmt: skip
# Names libvirt accepts that virsh would read as something else: the drain refuses them.
REFUSED = ["7", "\u202eevil"]
BYSTANDER = "bystander"
DEBRIS_RE = re.compile(r"(^|/)(\.[^/]*|s390apconfig\.lock)$")


def uid(round_no: int, n: int) -> str:
    return f"d7a10000-0000-4000-8000-{round_no:06x}{n:06x}"


def drain_fleet(names: list[str], round_no: int) -> dict[str, Any]:
    """Return the round's fleet: s1's guests (one mdev each), landing mdevs on d1 and d2, a bystander on d1."""

    def host(mdevs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"migration": "kernel", "usage_domains": "0-15", "control_domains": "0-15", "apmask": "0-255",
                "aqmask": "0-2,16-255", "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}], "mdevs": mdevs}  # fmt: skip

    guests = [{"uuid": uid(round_no, i), "adapters": [1], "domains": [3 + i], "control_domains": [3 + i], "guest": name, "start": "auto"}
              for i, name in enumerate(names)]  # fmt: skip
    landing = [{k: v for k, v in g.items() if k not in ("guest", "start")} for g in guests]
    bystander = {"uuid": uid(round_no, 0xB), "adapters": [1], "domains": [14], "control_domains": [14], "guest": BYSTANDER, "start": "auto"}
    return {"hosts": {"s1": host(guests), "d1": host(copy.deepcopy(landing) + [bystander]), "d2": host(copy.deepcopy(landing))}}


WRAPPER = '''#!{python}
"""virsh for the drain stress: counts 'migrate' calls; at DRAIN_KILL_AT kills the whole run with SIGKILL.

The run is ansible-playbook (the topmost ancestor running it) and every process below it (Ansible's
workers start their own sessions, so a process group is not enough), this one last.
"""
import os, signal, subprocess, sys

def stat(pid):
    with open(f"/proc/{{pid}}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])

def cmdline(pid):
    with open(f"/proc/{{pid}}/cmdline", "rb") as f:
        return f.read()

def kill_the_run():
    pid, main = os.getpid(), None
    while pid > 1:
        pid = stat(pid)
        if b"ansible-playbook" in cmdline(pid):
            main = pid  # the topmost one: Ansible's workers are forks of it
    parents = {{}}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents.setdefault(stat(int(entry)), []).append(int(entry))
            except OSError:
                pass
    doomed, todo = [], [main] if main else []
    while todo:
        pid = todo.pop()
        doomed.append(pid)
        todo += parents.get(pid, [])
    for pid in doomed:
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    os.kill(os.getpid(), signal.SIGKILL)

real, args = {virsh!r}, sys.argv[1:]
if "migrate" in args[:3] and os.environ.get("DRAIN_KILL_COUNT"):
    path = os.environ["DRAIN_KILL_COUNT"]
    n = int(open(path).read() or 0) + 1 if os.path.exists(path) else 1
    with open(path, "w") as out:
        out.write(str(n))
    if n == int(os.environ.get("DRAIN_KILL_AT") or 0):
        if os.environ.get("DRAIN_KILL_WHEN") == "after":
            subprocess.run([real, *args], check=False)
        kill_the_run()
os.execv(real, [real, *args])
'''


@dataclass
class Figures:
    """Counts per section and examples of every finding."""

    counts: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, section: str, figure: str, n: int = 1, example: Any = None) -> None:
        self.counts.setdefault(section, Counter())[figure] += n
        if example is not None and n:
            found = self.examples.setdefault(f"{section}: {figure}", [])
            if len(found) < 5:
                found.append(example)

    def total(self, figure: str) -> int:
        return sum(c[figure] for c in self.counts.values())

    def missed(self) -> list[str]:
        return [f for f in TARGETS if self.total(f)]

    def table(self) -> str:
        width = max([len(s) for s in self.counts] + [12])
        head = f"{'drain section':<{width}} " + " ".join(f"{c.replace('_', ' '):>9.9}" for c in FIGURES)
        lines = [head, "-" * len(head)]
        lines += [f"{s:<{width}} " + " ".join(f"{c[f]:>9}" for f in FIGURES) for s, c in self.counts.items()]
        lines.append("-" * len(head))
        lines.append(f"{'TOTAL':<{width}} " + " ".join(f"{self.total(f):>9}" for f in FIGURES))
        lines.append(f"{'target':<{width}} " + " ".join(f"{'0' if f in TARGETS else '-':>9}" for f in FIGURES))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"totals": {f: self.total(f) for f in FIGURES}, "targets": TARGETS, "missed": self.missed(),
                "sections": {s: dict(c) for s, c in self.counts.items()}, "examples": self.examples}  # fmt: skip


def progress(message: str) -> None:
    print(f"[drain stress {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ============================================================================ the world


class World:
    """One round's mounted fleet, inventory, wrapper and report directory."""

    def __init__(self, work: Path, fleet: dict[str, Any], policy: str):
        self.work = work
        self.fleet = fleet
        self.policy = policy
        self.live = start(fleet, work / "mnt", backing=work / "backing")
        self.bin = work / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        wrapper = self.bin / "virsh"
        wrapper.write_text(WRAPPER.format(python=sys.executable, virsh=str(VIRSH)))
        wrapper.chmod(0o755)
        self.inventory = local_inventory({h: {"vfio_ap_sysroot": str(self.live.host_dir(h))} for h in self.live.hosts}, work / "inv.yml")
        self.reports = work / "reports"
        self.count = work / "migrations"
        self.uuids = {m["uuid"]: m["guest"] for spec in fleet["hosts"].values() for m in spec["mdevs"] if m.get("guest")}

    def close(self) -> None:
        with contextlib.suppress(LiveError):
            self.live.unmount()

    def extra(self, plan_file: Path | None, kill_at: int = 0, kill_when: str = "after") -> dict[str, Any]:
        env = {"APSIM_MOUNT": str(self.live.root), "APSIM_HOST": "{{ inventory_hostname }}",
               "PATH": f"{self.bin}:{VIRSH.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               "DRAIN_KILL_COUNT": str(self.count), "DRAIN_KILL_AT": str(kill_at), "DRAIN_KILL_WHEN": kill_when}  # fmt: skip
        extra = {
            "vfio_ap_maintenance_hosts": "s1",
            "vfio_ap_maintenance_execute": True,
            "vfio_ap_maintenance_on_failure": "continue",
            "vfio_ap_maintenance_source_mdev": self.policy,
            "vfio_ap_maintenance_fail_when_not_empty": False,
            "vfio_ap_maintenance_report_dir": str(self.reports),
            "vfio_ap_maintenance_environment": env,
        }
        if plan_file is not None:
            extra["vfio_ap_maintenance_plan_file"] = str(plan_file)
        return extra

    def run(self, extra: dict[str, Any], name: str) -> dict[str, Any]:
        """Run the drain in its own process group (the wrapper kills that group); wait as long as it takes."""
        log = self.work / f"{name}.log"
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(self.inventory), str(PLAYBOOK), "-e", json.dumps(extra)]
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default"}),
                                    cwd=self.work, start_new_session=True)  # fmt: skip
            rc = proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the run left behind in its group
        return {"name": name, "rc": rc, "output": log.read_text(errors="replace")}

    def positions(self) -> dict[str, set[str]]:
        """Return {guest: hosts it runs on}: its status XML there, or an mdev in use by it."""
        where: dict[str, set[str]] = {}
        for host in self.live.hosts:
            for path in (self.live.host_dir(host) / "run/libvirt/qemu").glob("*.xml"):
                where.setdefault(path.name[: -len(".xml")], set()).add(host)
            for mdev in self.live.state(host)["mdevs"].values():
                if mdev["guest"]:
                    where.setdefault(mdev["guest"], set()).add(host)
        return where

    def snapshot(self) -> dict[str, Any]:
        """Return every host's kernel state and its etc/ and run/ files (for 'nothing changed')."""
        snap = {}
        for host in self.live.hosts:
            root = self.live.host_dir(host)
            files = {
                str(p.relative_to(root)): p.read_bytes() for top in ("etc", "run") for p in sorted((root / top).rglob("*")) if p.is_file()
            }
            snap[host] = {"state": self.live.state(host), "files": files}
        return snap


# ============================================================================ plans and tampering


def approved_plan(world: World, round_dir: Path) -> dict[str, Any]:
    """Return the evacuation.json a plan-only run of s1 writes (computed in-process from the round's fleet)."""
    facts = facts_for_fleet(world.fleet, round_dir / "render")
    plan = build_plan(facts, sources=["s1"], destinations=["d1", "d2"], limit=10)
    return json.loads(json.dumps(drain_document(evacuation_plan(plan), Progress("plan"), {}, plan)))


def _entries_with(document: dict[str, Any], names: set[str]) -> list[int]:
    return [i for i, g in enumerate(document["guests"]) if g.get("guest") in names and g.get("destination")]


def tamper(document: dict[str, Any], rng: random.Random, bystander_uuid: str) -> tuple[str, bool, dict[str, Any]]:
    """Return (what was done, whether the drain must refuse it, the tampered plan).

    Harmless edits are executed as they stand: an entry dropped (that guest stays), the order
    changed, the bystander's entry added (its mdev is on no host going down: reported ``skipped``).
    """
    d = copy.deepcopy(document)
    guests = d["guests"]
    movable = [i for i, g in enumerate(guests) if g.get("destination")]
    i = rng.choice(movable)
    kind = rng.choice(["swap names", "bystander entry", "foreign source", "twice", "all null", "number", "other hosts", "into s1",
                       "huge", "drop one", "reorder"])  # fmt: skip
    if kind == "swap names":
        j = rng.choice([k for k in range(len(guests)) if k != i])
        guests[i]["guest"], guests[j]["guest"] = guests[j]["guest"], guests[i]["guest"]
    elif kind == "bystander entry":
        guests.append({**copy.deepcopy(guests[i]), "uuid": bystander_uuid, "guest": BYSTANDER})
        return kind, False, d
    elif kind == "foreign source":
        guests[i]["source"] = "d1"
    elif kind == "twice":
        guests.append(copy.deepcopy(guests[i]))
    elif kind == "all null":
        guests[i] = dict.fromkeys(guests[i])
    elif kind == "number":
        guests[i] = 42
    elif kind == "other hosts":
        d["hosts"] = ["d2"]
    elif kind == "into s1":
        guests[i]["destination"] = "s1"
    elif kind == "huge":
        d["guests"] = guests + [{**guests[i], "source": "d2"}] * 200_000
    elif kind == "drop one":
        del guests[i]
        return kind, False, d
    elif kind == "reorder":
        rng.shuffle(guests)
        return kind, False, d
    return kind, True, d


# ============================================================================ the checks


def check(world: World, figures: Figures, section: str, original: dict[str, str], planned: set[str], runs: list[dict[str, Any]]) -> None:
    """Count the figures of a finished round: ``original`` {guest: host at the start}, ``planned`` the guests a plan moves."""
    where = world.positions()
    example = {"runs": [(r["name"], r["rc"]) for r in runs], "policy": world.policy, "work": str(world.work)}
    for guest, host in original.items():
        hosts = where.get(guest, set())
        if not hosts:
            figures.add(section, "lost", 1, {**example, "guest": guest})
        elif len(hosts) > 1:
            figures.add(section, "on_two_hosts", 1, {**example, "guest": guest, "hosts": sorted(hosts)})
        elif hosts != {host} and guest not in planned:
            figures.add(section, "moved_not_planned", 1, {**example, "guest": guest, "now": sorted(hosts)})
        elif hosts == {host} and guest in planned and not guest_name_problem(guest):
            figures.add(section, "unfinished", 1, {**example, "guest": guest, "still on": host})
    # debris: the source mdevs of guests that left, hidden files
    state = world.live.state("s1")
    for guest, host in original.items():
        if host != "s1" or where.get(guest, {"s1"}) == {"s1"}:
            continue
        uuid = next(u for u, g in world.uuids.items() if g == guest)
        left = []
        if world.policy in ("stop", "undefine") and uuid in state["mdevs"]:
            left.append("active mdev")
        if world.policy == "undefine" and (world.live.host_dir("s1") / "etc/mdevctl.d/matrix" / uuid).exists():
            left.append("mdevctl definition")
        if left:
            figures.add(section, "debris", 1, {**example, "guest": guest, "left": left})
    for host in world.live.hosts:
        root = world.live.host_dir(host)
        hidden = [str(p.relative_to(root)) for top in ("etc", "run") for p in (root / top).rglob("*") if DEBRIS_RE.search(str(p))]
        if hidden:
            figures.add(section, "debris", len(hidden), {**example, "host": host, "files": hidden})
    # the report
    path = world.reports / "evacuation.json"
    if not path.exists():
        return
    document = json.loads(path.read_text())
    rows = {g["uuid"]: g for g in document.get("guests") or []}
    for uuid, guest in world.uuids.items():
        if original[guest] != "s1":
            row = rows.get(uuid)
            if row is not None and row.get("result") not in ("skipped",):
                figures.add(section, "false_rows", 1, {**example, "guest": guest, "result": row.get("result"), "never on": "s1"})
            continue
        row = rows.get(uuid)
        hosts = where.get(guest, set())
        if row is None:
            if hosts != {"s1"} or guest in planned:
                figures.add(section, "false_rows", 1, {**example, "guest": guest, "row": None})
            continue
        result = row.get("result")
        if result in ("moved", "already_moved"):
            wrong = hosts != {row.get("actual_destination")}
        elif result == "pending" or not document.get("finished", True):
            wrong = True
        elif result == "skipped":  # it no longer runs on the source
            wrong = row.get("source") in hosts
        else:
            wrong = hosts != {row.get("source")}
        if wrong or row.get("guest") != guest:
            figures.add(section, "false_rows", 1, {**example, "guest": guest, "result": result, "runs on": sorted(hosts)})
    empty = (document.get("host_status") or {}).get("s1", {}).get("empty")
    really = not any("s1" in h for g, h in where.items())
    if document.get("mode") == "execute" and empty is not really:
        figures.add(section, "false_rows", 1, {**example, "host_status": empty, "really empty": really})


def _common(figures: Figures, section: str, runs: list[dict[str, Any]]) -> None:
    figures.add(section, "runs", len(runs))
    figures.add(section, "kills", sum(r["rc"] == -signal.SIGKILL for r in runs))
    for r in runs:
        if "Traceback" in r["output"]:
            figures.add(section, "tracebacks", 1, {"run": r["name"], "output": r["output"][-1500:]})


def one_round(round_no: int, kind: str, rng: random.Random, work: Path, figures: Figures) -> None:
    names = rng.sample(NAMES, rng.randint(2, 4)) + ([rng.choice(REFUSED)] if rng.random() < 0.5 else [])
    rng.shuffle(names)
    fleet = drain_fleet(names, round_no)
    policy = rng.choice(["keep", "stop", "undefine"])
    world = World(work, fleet, policy)
    original = {m["guest"]: h for h, spec in fleet["hosts"].items() for m in spec["mdevs"] if m.get("guest")}
    runs: list[dict[str, Any]] = []
    try:
        approved = approved_plan(world, work)
        if kind == "tamper":
            what, refuse, plan = tamper(approved, rng, uid(round_no, 0xB))
            section = f"tamper: {what}"
            plan_file = work / "approved.json"
            plan_file.write_text(json.dumps(plan))
            before = world.snapshot()
            runs.append(world.run(world.extra(plan_file), "tampered"))
            if refuse:
                after = world.snapshot()
                if runs[-1]["rc"] == 0:
                    figures.add(section, "unfinished", 1, {"tampering": what, "rc": 0, "work": str(work)})
                changed = sorted(h for h in before if before[h] != after[h])
                if changed:
                    figures.add(section, "debris", 1, {"tampering": what, "changed hosts": changed, "work": str(work)})
                planned: set[str] = set()
            else:
                planned = {g["guest"] for g in plan["guests"] if isinstance(g, dict) and g.get("destination") and g["guest"] != BYSTANDER}
        else:
            with_plan = rng.random() < 0.5
            plan_file = None
            if with_plan:
                plan_file = work / "approved.json"
                plan_file.write_text(json.dumps(approved))
            movable = [g["guest"] for g in approved["guests"] if g.get("destination") and not guest_name_problem(g["guest"])]
            kill_at, when = rng.randint(1, max(1, len(movable))), rng.choice(["before", "after"])
            section = f"kill -9 {when} migration {kill_at} ({'approved plan' if with_plan else 'own plan'}, {policy})"
            runs.append(world.run(world.extra(plan_file, kill_at, when), "killed"))
            runs.append(world.run(world.extra(plan_file), "again"))
            planned = {g["guest"] for g in approved["guests"] if g.get("destination")}
        figures.add(section, "rounds")
        _common(figures, section, runs)
        check(world, figures, section, original, planned, runs)
        found = ", ".join(f"{f} {c}" for f, c in figures.counts[section].items() if f in TARGETS and c)
        progress(f"round {round_no}: {section}: {found or 'at target'}")
    finally:
        world.close()


def run_drain_suite(rounds: int = 6, seed: int | None = None, work: Path | None = None, figures: Figures | None = None) -> Figures:
    """Run ``rounds`` rounds (kill and tamper alternating), each on a fresh fleet; return the figures."""
    figures = Figures() if figures is None else figures
    seed = random.randrange(2**32) if seed is None else seed
    progress(f"{rounds} rounds, seed {seed}")
    rng = random.Random(seed)
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vfio-ap-drain-stress-")))
        for n in range(rounds):
            round_dir = work / f"round-{n}"
            round_dir.mkdir(parents=True, exist_ok=True)
            one_round(n + 1, "kill" if n % 2 == 0 else "tamper", rng, round_dir, figures)
            if not figures.missed():
                shutil.rmtree(round_dir, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds, kill and tamper alternating (default 6)")
    parser.add_argument("--seed", type=int, help="random seed (default: a new one, printed)")
    parser.add_argument("--report", help="write the figures and examples as JSON here")
    parser.add_argument("--work", help="work directory (default: a temporary one; rounds with findings are kept there)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    figures = Figures()
    try:
        run_drain_suite(args.rounds, args.seed, Path(args.work) if args.work else None, figures)
    except (KeyboardInterrupt, SystemExit):
        print("\ninterrupted: the figures so far", flush=True)
    print()
    print(figures.table())
    missed = figures.missed()
    print("\n" + (f"targets missed: {', '.join(missed)}" if missed else "all targets met"))
    if args.report:
        Path(args.report).write_text(json.dumps(figures.as_dict(), indent=2, default=str) + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
