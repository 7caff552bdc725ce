"""The rolling maintenance playbook on the live simulator: batch by batch drain, reboot, check, return.

Hosts reboot through the simulator (``vfio_ap_maintenance_reboot_tasks`` runs ``python -m apsim
reboot``: masks from the kernel's defaults and the persistent rule, mdevs from the auto-start
definitions, guests stopped), guests migrate with the simulator's ``virsh``. What each test checks
is what the run promises: every host maintained and rebooted once, no guest lost or on two hosts,
every host's AP configuration as its persistent configuration rebuilds it, the guests that could
not leave exactly those the plan said, and a run that stopped (a refusal, a failure, a kill -9)
taken up by the same command where it stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apsim.generate import rolling_fleet
from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import
from helpers import rolling
from helpers.ansible_run import ROOT, ansible_env, run_playbook
from helpers.hang import HANG_GUARD
from stress.drain import WRAPPER as KILLER  # virsh that kills the whole run (kill -9) at the n-th migration

pytestmark = [pytest.mark.live, pytest.mark.slow]

DEMO = yaml.safe_load((ROOT / "tests" / "fleets" / "demo.yml").read_text())
DEMO_HOSTS = sorted(DEMO["hosts"])


def running(live) -> dict[str, list[str]]:
    """Return {guest: [hosts it runs on]} over the mounted fleet (libvirt status XMLs)."""
    out: dict[str, list[str]] = {}
    for host in sorted(p.name for p in live.root.iterdir() if p.name != ".apsim"):
        for xml in (live.host_dir(host) / "run/libvirt/qemu").glob("*.xml"):
            out.setdefault(xml.stem, []).append(host)
    return out


def state_file(report_dir: Path) -> dict:
    return json.loads((report_dir / "rolling-state.json").read_text())


def check_finished(live, report_dir: Path, hosts: list[str], guests: set[str]) -> dict:
    """Check what a finished run promises and return its report."""
    report = rolling.run_report(report_dir)
    summary = report["summary"]
    assert summary["finished"] and not summary["stopped"], summary
    assert summary["maintained"] and sorted(summary["maintained"]) == sorted(hosts)
    assert sorted(summary["rebooted"]) == sorted(hosts) == sorted(summary["verified"])
    for host in hosts:
        assert len(live.boots(host)) == 1, (host, live.boots(host))  # rebooted once, whatever stopped the run
    where = running(live)
    assert set(where) == guests, "a guest was lost (or appeared)"
    assert all(len(h) == 1 for h in where.values()), {g: h for g, h in where.items() if len(h) != 1}
    assert summary["stranded_as_planned"], (summary["stranded_planned"], summary["stranded"])
    for batch in report["batches"]:
        for host, result in batch["verify"].items():
            assert result["verified"] and not result["differences"], (host, result)
    return report


def test_demo_fleet_rolled_host_by_host(fresh_live_fleet, tmp_path):  # noqa: F811
    """The demo fleet, its reservations persistent: refused while guests would be left, stopped before a reboot
    that would change db1's mdev, taken up by the same command told to accept it, finished."""
    live = fresh_live_fleet(rolling.persistent(DEMO))
    inventory = rolling.inventory(live, tmp_path / "inventory.yml")
    out = tmp_path / "reports"
    guests = set(running(live))
    assert len(guests) == 15

    # 1. Guests would stay on hosts going down (they stop at the reboot): refused before any change.
    writes = {h: live.writes(h) for h in DEMO_HOSTS}
    refused = run_playbook(rolling.PLAYBOOK, inventory, extra_vars=rolling.extra_vars(live, out, DEMO_HOSTS))
    assert refused.rc != 0
    assert "have no destination when their host goes down" in refused.stdout and "nothing was changed" in refused.stdout
    assert {h: live.writes(h) for h in DEMO_HOSTS} == writes and not any(live.boots(h) for h in DEMO_HOSTS)
    plan = json.loads((out / "rolling-plan.json").read_text())
    assert len(plan["stranded"]) == 11

    # 2. Let them stop for the window: the run goes batch by batch until kvm-a1, whose db1 would come back
    #    with its definition's configuration (drift): it stops before rebooting kvm-a1.
    extra = rolling.extra_vars(live, out, DEMO_HOSTS, vfio_ap_maintenance_fail_when_not_empty=False)
    stopped = run_playbook(rolling.PLAYBOOK, inventory, extra_vars=extra)
    assert stopped.rc != 0
    state = state_file(out)
    assert state["stopped"]["phase"] == "snapshot" and "db1" in state["stopped"]["message"]
    assert "vfio_ap_maintenance_reboot_unpersisted" in state["stopped"]["message"]
    assert live.boots("kvm-a1") == []
    done = [b["hosts"][0] for b in state["batches"] if b["finished"]]
    assert done and "kvm-a1" not in done and all(len(live.boots(h)) == 1 for h in done)
    assert all(len(h) == 1 for h in running(live).values())

    # 3. The same command, told to reboot anyway: taken up at kvm-a1's snapshot, finished.
    resumed = run_playbook(rolling.PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_reboot_unpersisted": True})
    assert resumed.rc == 0, resumed.stdout[-3000:]
    report = check_finished(live, out, DEMO_HOSTS, guests)
    assert sorted(report["summary"]["stranded"]) == sorted(s["guest"] for s in plan["stranded"])
    a1 = next(b for b in report["batches"] if b["hosts"] == ["kvm-a1"])
    assert [f["uuid"] for f in a1["verify"]["kvm-a1"]["lost"] if f["code"] == "mdev_drift"] == ["6c1a0000-0000-4000-8000-00000000a102"]
    where = running(live)
    for guest, path in ((g["guest"], [g["home"]] + [m["to"] for m in g["moves"]]) for g in plan["guests"]):
        assert where[guest] == [path[-1]], (guest, path, where[guest])  # where the plan said
    assert (out / "rolling-run.md").read_text().startswith("# Rolling maintenance of kvm-a1")
    assert "<testsuites" in (out / "rolling-run.xml").read_text()


def test_generated_fleet_killed_mid_run_and_taken_up(fresh_live_fleet, tmp_path):  # noqa: F811
    """A generated 12-host fleet, six at a time, guests back home after each batch: a kill -9 in the middle of a
    batch's drain, and the same command finishes the job. kvm0009 runs older cards (CEX7): its guest moves up to
    a CEX8 host and cannot come back down (hw_type_older), the others are home again at the end."""
    fleet = rolling.persistent(rolling_fleet(12, guests_per_host=1))
    live = fresh_live_fleet(fleet)
    hosts = sorted(fleet["hosts"])
    inventory = rolling.inventory(live, tmp_path / "inventory.yml")
    out = tmp_path / "reports"
    guests = set(running(live))
    homes = {g: h[0] for g, h in running(live).items()}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    killer = bin_dir / "virsh"
    killer.write_text(KILLER.format(python=sys.executable, virsh=str(ROOT / "tests" / "apsim" / "bin" / "virsh")))
    killer.chmod(0o755)
    extra = rolling.extra_vars(live, out, hosts, vfio_ap_maintenance_batch_size=6, vfio_ap_maintenance_return="original")
    environment = extra["vfio_ap_maintenance_environment"]
    environment["PATH"] = f"{bin_dir}:{environment['PATH']}"
    # killed after the 14th migration: in the second batch's drain (the first batch moves 6 guests out and 6 back)
    environment.update(DRAIN_KILL_COUNT=str(tmp_path / "migrations"), DRAIN_KILL_AT="14", DRAIN_KILL_WHEN="after")
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(inventory),
        str(rolling.PLAYBOOK),
        "-e",
        f"@{tmp_path / 'extra.json'}",
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default"}), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        output = proc.communicate(timeout=HANG_GUARD)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, output.decode(errors="replace")[-3000:]
    killed = state_file(out)
    assert not killed["finished"] and killed["stopped"] is None
    at = next(b for b in killed["batches"] if not b["finished"])
    assert at["index"] >= 2 and "restore" not in at["done"]  # killed in the middle of a batch, after one finished
    assert all(len(h) == 1 for h in running(live).values()) and set(running(live)) == guests

    environment["DRAIN_KILL_AT"] = "0"
    again = run_playbook(rolling.PLAYBOOK, inventory, extra_vars=extra)
    assert again.rc == 0, again.stdout[-3000:]
    report = check_finished(live, out, hosts, guests)
    assert report["summary"]["returned"] > 0 and report["summary"]["stranded"] == []
    away = {g: h[0] for g, h in running(live).items() if h[0] != homes[g]}
    # return: original - every other guest is home again (on failure: where each batch moved and returned whom)
    trail = [(b["index"], b["hosts"], (b["drain"] or {}).get("planned"), b["returns"]) for b in report["batches"]]
    assert away and all(homes[g] == "kvm0009" for g in away), (away, trail)
    staying = [s for b in report["batches"] for s in (b["returns"] or {}).get("staying") or []]
    assert {s["guest"] for s in staying} == set(away) and all(s["codes"] == ["hw_type_older"] for s in staying), staying
    resumed = next(b for b in report["batches"] if b["index"] == at["index"])
    if "drain" not in at["done"]:  # killed in the drain: the migration it made before the kill is found done
        assert resumed["drain"]["results"].get("already_moved", 0) >= 1, resumed["drain"]


SABOTAGE = """---
# Reboot through the simulator, then play a boot that did not bring everything back: udev did not
# reserve domain {domain} and mdevctl did not start {uuid}.
- name: Reboot the simulated host
  ansible.builtin.include_tasks: {reboot}

- name: Give domain {domain} back to the host drivers (a boot that missed the persistent rule)
  ansible.builtin.shell: >-
    echo 1 > {{{{ vfio_ap_sysroot }}}}/sys/devices/vfio_ap/matrix/{uuid}/remove
    && echo +{domain} > {{{{ vfio_ap_sysroot }}}}/sys/bus/ap/aqmask
  changed_when: true
  when: inventory_hostname == {host!r}
"""


def test_a_boot_that_missed_something_is_repaired_and_a_stopped_run_taken_up(fresh_live_fleet, tmp_path):  # noqa: F811
    """After kvm-b1's reboot a domain is with the host drivers and an auto-start mdev is missing: without repair the run
    stops (kvm-b1 is not as it should be); taken up with repair, both are set again live - kvm-b1 is not rebooted again."""
    fleet = rolling.persistent({"hosts": {h: DEMO["hosts"][h] for h in ("kvm-a1", "kvm-b1")}})
    live = fresh_live_fleet(fleet)
    hosts = ["kvm-b1"]
    inventory = rolling.inventory(live, tmp_path / "inventory.yml")
    out = tmp_path / "reports"
    sabotage = tmp_path / "reboot.yml"
    sabotage.write_text(SABOTAGE.format(reboot=rolling.REBOOT_TASKS, domain=11, uuid="6c1a0000-0000-4000-8000-00000000b103",
                                        host="kvm-b1"))  # fmt: skip
    failing = tmp_path / "update.yml"
    fixed = tmp_path / "fixed"
    failing.write_text(f"---\n- name: Update the kernel (fails the first time)\n  ansible.builtin.command: test -e {fixed}\n"
                       "  changed_when: true\n")  # fmt: skip
    extra = rolling.extra_vars(
        live, out, hosts, vfio_ap_maintenance_fail_when_not_empty=False, vfio_ap_maintenance_reboot_tasks=str(sabotage),
        vfio_ap_maintenance_tasks=str(failing), vfio_ap_maintenance_repair=False, vfio_ap_maintenance_settle_timeout=1,
    )  # fmt: skip
    guests = set(running(live))
    # 1. the maintenance tasks fail: the run stops there, kvm-b1 drained but not rebooted
    first = run_playbook(rolling.PLAYBOOK, inventory, extra_vars=extra)
    assert first.rc != 0
    state = state_file(out)
    assert state["stopped"]["phase"] == "maintain" and "the maintenance tasks failed on kvm-b1" in state["stopped"]["message"]
    assert state["batches"][0]["done"] == ["drain"] and live.boots("kvm-b1") == []
    # 2. fixed: taken up at the maintenance tasks; rebooted; the check finds what the boot missed and, told not to repair, stops
    (tmp_path / "fixed").write_text("")
    second = run_playbook(rolling.PLAYBOOK, inventory, extra_vars=extra)
    assert second.rc != 0
    state = state_file(out)
    assert state["stopped"]["phase"] == "verify" and len(live.boots("kvm-b1")) == 1
    codes = sorted(d["code"] for d in state["batches"][0]["verify"]["kvm-b1"]["differences"])
    assert codes == ["masks", "mdev_missing"]
    # 3. taken up with repair: set again live (not rebooted again), verified, the guests that stayed started again
    third = run_playbook(rolling.PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_repair": True})
    assert third.rc == 0, third.stdout[-3000:]
    assert len(live.boots("kvm-b1")) == 1
    report = rolling.run_report(out)
    result = report["batches"][0]["verify"]["kvm-b1"]
    assert result["verified"] and sorted(d["code"] for d in result["repaired"]) == ["masks", "mdev_missing"]
    assert 11 not in live.state("kvm-b1")["aqmask"] and "6c1a0000-0000-4000-8000-00000000b103" in live.state("kvm-b1")["mdevs"]
    where = running(live)
    assert set(where) == guests and all(len(h) == 1 for h in where.values())
    assert sorted(report["batches"][0]["restarted"]["kvm-b1"]) == ["ai1", "sec1"]
