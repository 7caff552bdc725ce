"""The maintenance role drains kvm-a1 of the live demo fleet through the simulator's migration.

The migration runs on the source as an administrator would run it (``virsh migrate --live ...``):
``tests/apsim/bin`` first on PATH makes ``virsh`` the simulator's, which migrates between the hosts
of the live mount (APSIM_MOUNT) with the kernel's checks, logging the kernel's refusals in the
destination's ``var/log/kern.log``. Two hosts are enough: kvm-a1 goes down, kvm-b1 takes what it
can (web1 ready, hsm1 after preparation; db1, batch1, ctl1 and web3 are blocked there).

A libvirt hook on kvm-b1 plays the world changing under the run: one hands domain 4 back to the
host just as web1 arrives (the kernel refuses: the queue is no longer bound to vfio_ap), another
refuses hsm1 outright.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import
from helpers.ansible_run import COLLECTIONS, ROOT, local_inventory, run_playbook
from helpers.hang import HANG_GUARD

pytestmark = [pytest.mark.live, pytest.mark.slow]

PLAYBOOK = ROOT / "playbooks" / "pre_maintenance.yml"
DEMO = ROOT / "tests" / "fleets" / "demo.yml"
WEB1 = "6c1a0000-0000-4000-8000-00000000a101"
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"
STRANDED = {"db1": "hw_type_older", "batch1": "apqn_in_use", "ctl1": "hw_class_incompatible", "web3": "queue_unusable"}
HOSTS = ("kvm-a1", "kvm-b1")


def setup(live, tmp_path: Path, hosts: tuple[str, ...] = HOSTS) -> tuple[Path, dict]:
    """Return (inventory, extra vars) draining kvm-a1 of the mounted fleet."""
    inventory = local_inventory({h: {"vfio_ap_sysroot": str(live.host_dir(h))} for h in hosts}, tmp_path / "inventory.yml")
    extra = {
        "vfio_ap_maintenance_hosts": "kvm-a1",
        "vfio_ap_maintenance_prepare": True,
        "vfio_ap_maintenance_execute": True,
        "vfio_ap_maintenance_report_dir": str(tmp_path / "out"),
        "vfio_ap_maintenance_environment": {
            "APSIM_MOUNT": str(live.root),
            "APSIM_HOST": "{{ inventory_hostname }}",
            "PATH": f"{ROOT / 'tests' / 'apsim' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        },
    }
    return inventory, extra


def hook(live, host: str, name: str, script: str) -> Path:
    """Install an executable libvirt qemu hook on a simulated host."""
    path = live.host_dir(host) / "etc/libvirt/hooks/qemu.d" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script + "\nexit 0\n")
    path.chmod(0o755)
    return path


def report(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "evacuation.json").read_text())


def results(document: dict) -> dict[str, tuple]:
    return {g["guest"]: (g["result"], g["actual_destination"], g["codes"]) for g in document["guests"]}


def runs_on(live, host: str) -> set[str]:
    """Return the guests whose libvirt status XML is on the host (running there)."""
    return {p.stem for p in (live.host_dir(host) / "run/libvirt/qemu").glob("*.xml")}


def test_drain_with_just_in_time_check_check_mode_and_second_run(fresh_live_fleet, tmp_path):  # noqa: F811
    live = fresh_live_fleet(DEMO)
    inventory, extra = setup(live, tmp_path)

    # 1. Plan only (the default): destinations chosen, nothing migrates, nothing written to the hosts.
    writes = {h: live.writes(h) for h in HOSTS}
    planned = run_playbook(
        PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_execute": False, "vfio_ap_maintenance_prepare": False}
    )
    assert planned.rc == 0, planned.stdout[-3000:]
    plan = report(tmp_path)
    assert plan["mode"] == "plan"
    assert results(plan)["web1"][0] == "planned" and results(plan)["hsm1"][0] == "needs_preparation"
    assert {h: live.writes(h) for h in HOSTS} == writes
    (tmp_path / "approved.json").write_text(json.dumps(plan))

    # 2. Between the plan and the drain web1's landing mdev on kvm-b1 disappears.
    (live.host_dir("kvm-b1") / f"sys/devices/vfio_ap/matrix/{WEB1}/remove").write_text("1")
    approved = {**extra, "vfio_ap_maintenance_plan_file": str(tmp_path / "approved.json")}

    # 3. Check mode: nothing migrates, nothing is written; the report says what would happen,
    #    including that kvm-b1 must now be prepared for web1 (the just-in-time check saw it).
    state = live.state("kvm-b1")
    writes = {h: live.writes(h) for h in HOSTS}
    dry = run_playbook(PLAYBOOK, inventory, extra_vars=approved, check=True)
    assert dry.rc == 0, dry.stdout[-3000:]
    document = report(tmp_path)
    assert document["mode"] == "check"
    assert results(document)["web1"][:2] == ("would_move", "kvm-b1")
    web1 = next(g for g in document["guests"] if g["guest"] == "web1")
    assert web1["prepared"] and "mdev_missing" in web1["message"]
    assert {h: live.writes(h) for h in HOSTS} == writes and live.state("kvm-b1") == state
    assert runs_on(live, "kvm-a1") >= {"web1", "hsm1"}

    # 4. The drain: the just-in-time check finds kvm-b1 no longer ready for web1, prepares it
    #    (preparation is allowed) and moves web1; hsm1 is prepared and moved; the rest stay, with reasons.
    #    kvm-a1 is not empty at the end: the job fails (after the reports), naming what is left.
    drained = run_playbook(PLAYBOOK, inventory, extra_vars=approved)
    assert drained.rc == 2, drained.stdout[-3000:]
    assert "not empty after the drain - kvm-a1: batch1, ctl1, db1, web3" in drained.stdout
    document = report(tmp_path)
    got = results(document)
    assert got["web1"][:2] == got["hsm1"][:2] == ("moved", "kvm-b1")
    for guest, code in STRANDED.items():
        assert got[guest][0] == "stranded" and code in got[guest][2], (guest, got[guest])
    assert runs_on(live, "kvm-b1") >= {"web1", "hsm1"} and not runs_on(live, "kvm-a1") & {"web1", "hsm1"}
    b1 = live.state("kvm-b1")
    assert {WEB1, HSM1} <= set(b1["mdevs"])
    assert document["host_status"]["kvm-a1"] == {"empty": False, "running": sorted(STRANDED)}
    assert all(g["duration"] is not None for g in document["guests"] if g["result"] == "moved")
    summary = drained.data["custom_stats"]["_run"]["vfio_ap_maintenance_summary"]
    assert summary["moved"] == ["web1", "hsm1"] and summary["empty"] == {"kvm-a1": False} and summary["failed"] == []
    for name in ("evacuation.md", "evacuation.html", "evacuation.xml"):
        assert "hsm1" in (tmp_path / "out" / name).read_text()
    assert '<testsuite name="kvm-a1" tests="6" failures="4" errors="0" skipped="0">' in (tmp_path / "out" / "evacuation.xml").read_text()

    # 5. A second run has nothing left to move and writes nothing to the hosts; the stranded
    #    guests may stop for the window, so the run need not fail for them.
    writes = {h: live.writes(h) for h in HOSTS}
    again = run_playbook(PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_fail_when_not_empty": False})
    assert again.rc == 0, again.stdout[-3000:]
    assert {h: live.writes(h) for h in HOSTS} == writes
    got = results(report(tmp_path))
    assert got["web1"] == got["hsm1"] == ("already_moved", "kvm-b1", [])
    assert {g for g, r in got.items() if r[0] == "stranded"} == set(STRANDED)


def test_refusal_stops_nothing_half_done_then_a_second_run_finishes(fresh_live_fleet, tmp_path):  # noqa: F811
    live = fresh_live_fleet(DEMO)
    inventory, extra = setup(live, tmp_path)
    # Just as web1 arrives, someone hands domain 4 back to kvm-b1's host drivers.
    race = hook(live, "kvm-b1", "10-race", 'if [ "$1" = web1 ]; then echo +4 > "$VFIO_AP_SYSROOT/sys/bus/ap/aqmask"; fi')
    a1_before = live.state("kvm-a1")

    stopped = run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    assert stopped.rc != 0
    document = report(tmp_path)
    got = results(document)
    # The kernel's reason, read from kvm-b1's kernel log, in AP terms:
    assert got["web1"] == ("failed", None, ["apqn_not_bound"])
    web1 = next(g for g in document["guests"] if g["guest"] == "web1")
    assert any("Queue 01.0004 not available to vfio_ap driver on target host" in line for line in web1["kernel"])
    # Stop at the first failure: hsm1 is not attempted, kvm-b1 was not prepared for it.
    assert got["hsm1"] == ("not_attempted", None, ["not_attempted"])
    assert document["stopped"] is True
    assert "apqn_not_bound" in stopped.stdout
    # Nothing half-done: both guests still run on kvm-a1, whose state did not change.
    assert runs_on(live, "kvm-a1") >= {"web1", "hsm1"}
    assert live.state("kvm-a1") == a1_before
    assert HSM1 not in live.state("kvm-b1")["mdevs"]

    # The cause is fixed; the second run finishes the job.
    race.unlink()
    (live.host_dir("kvm-b1") / "sys/bus/ap/aqmask").write_text("-4")
    finished = run_playbook(PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_fail_when_not_empty": False})
    assert finished.rc == 0, finished.stdout[-3000:]
    got = results(report(tmp_path))
    assert got["web1"][:2] == got["hsm1"][:2] == ("moved", "kvm-b1")
    assert runs_on(live, "kvm-b1") >= {"web1", "hsm1"}


def test_runner_continue_after_a_refusal_undoes_the_preparation(fresh_live_fleet, tmp_path):  # noqa: F811
    """Through ansible-runner (as AWX runs it): hsm1 is refused by a hook, web1 still moves, kvm-b1 is put back for hsm1."""
    ansible_runner = pytest.importorskip("ansible_runner")
    import sys

    live = fresh_live_fleet(DEMO)
    inventory, extra = setup(live, tmp_path)
    hook(live, "kvm-b1", "20-policy", 'if [ "$1" = hsm1 ]; then echo "site policy: hsm1 stays" >&2; exit 1; fi')
    b1_before = live.state("kvm-b1")
    private = tmp_path / "job"
    (private / "project").mkdir(parents=True)
    (private / "project" / "drain.yml").write_text("---\n- name: Drain\n  ansible.builtin.import_playbook: s390x.vfio_ap.pre_maintenance\n")
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook="drain.yml",
        inventory=str(inventory),
        extravars={**extra, "vfio_ap_maintenance_on_failure": "continue", "vfio_ap_maintenance_source_mdev": "stop"},
        envvars={
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "PYTHONPATH": f"{COLLECTIONS}:{ROOT / 'tests'}",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        },
        ident="drain",
        quiet=True,
        timeout=HANG_GUARD,
    )
    assert runner.status == "failed"  # a guest failed to move: the job fails, after the report
    stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    summary = stats[0]["event_data"]["artifact_data"]["vfio_ap_maintenance_summary"]
    assert summary["moved"] == ["web1"]
    assert summary["failed"][0]["guest"] == "hsm1" and summary["failed"][0]["codes"] == ["hook_refused"]
    assert "site policy: hsm1 stays" in summary["failed"][0]["message"]
    assert summary["empty"] == {"kvm-a1": False} and summary["report_dir"] == str(tmp_path / "out")
    # hsm1 stays on kvm-a1; the preparation of kvm-b1 for it is undone (no mdev, domain 3 back with the host).
    assert "hsm1" in runs_on(live, "kvm-a1") and "web1" in runs_on(live, "kvm-b1")
    b1 = live.state("kvm-b1")
    assert HSM1 not in b1["mdevs"] and b1["aqmask"] == b1_before["aqmask"]
    assert not (live.host_dir("kvm-b1") / "etc/mdevctl.d/matrix" / HSM1).exists()
    # source_mdev stop: web1's mdev on kvm-a1 is gone, its definition kept.
    assert WEB1 not in live.state("kvm-a1")["mdevs"]
    assert (private / "artifacts" / "drain" / "status").read_text().strip() == "failed"


def test_v1_host_emptied_with_migration_enabled(fresh_live_fleet, tmp_path):  # noqa: F811
    """kvm-b2 (series v1, per-mdev migratable files) drains completely to kvm-a2 once v1app's migration is enabled."""
    live = fresh_live_fleet(DEMO)
    inventory, extra = setup(live, tmp_path, hosts=("kvm-b2", "kvm-a2"))
    extra = {**extra, "vfio_ap_maintenance_hosts": ["kvm-b2"], "vfio_ap_maintenance_enable_migration": True}
    result = run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    assert result.rc == 0, result.stdout[-3000:]
    got = results(report(tmp_path))
    assert got == {"v1app": ("moved", "kvm-a2", []), "v1ok": ("moved", "kvm-a2", [])}
    summary = result.data["custom_stats"]["_run"]["vfio_ap_maintenance_summary"]
    assert summary["all_empty"] is True and summary["empty"] == {"kvm-b2": True}
    assert runs_on(live, "kvm-b2") == set() and runs_on(live, "kvm-a2") >= {"v1app", "v1ok"}
