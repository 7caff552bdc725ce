"""playbooks/pre_maintenance.yml over real SSH connections with become and no sysroot.

kvm-a1 goes into maintenance on the live demo fleet, every host reached through its own SSH
server (apsim ssh-serve): check mode writes nothing, the real run prepares kvm-b1 for hsm1 and
sends web1 there, a second run changes nothing on the hosts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.ansible_run import run_playbook
from helpers.ssh_fleet import ssh_fleet_fixture

pytestmark = [pytest.mark.live, pytest.mark.ssh]

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "pre_maintenance.yml"
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"

ssh = ssh_fleet_fixture(ROOT / "tests" / "fleets" / "demo.yml")


def test_pre_maintenance_over_ssh(ssh, tmp_path):
    live = ssh.live
    inventory = ssh.inventory_with(tmp_path / "inventory.yml", lambda _h, i: {"vfio_ap_migration_address": f"192.0.2.{i + 11}"})
    extra = {
        "vfio_ap_maintenance_hosts": "kvm-a1",
        "vfio_ap_maintenance_prepare": "true",
        "vfio_ap_maintenance_report_dir": str(tmp_path / "out"),
    }
    before = {h: (live.writes(h), live.state(h)) for h in live.hosts}
    dry = run_playbook(PLAYBOOK, inventory, extra_vars=extra, check=True, args=["--become"])
    assert dry.rc == 0, dry.stdout[-3000:] + dry.stderr[-2000:]
    assert dry.changed_total() > 0
    assert {h: (live.writes(h), live.state(h)) for h in live.hosts} == before

    result = run_playbook(PLAYBOOK, inventory, extra_vars=extra, args=["--become"])
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert HSM1 in live.state("kvm-b1")["mdevs"]
    evacuation = json.loads((tmp_path / "out" / "evacuation.json").read_text())
    chosen = {g["guest"]: (g["destination"], g["status"]) for g in evacuation["guests"]}
    assert chosen["web1"] == ("kvm-b1", "ready") and chosen["hsm1"] == ("kvm-b1", "prepare")
    assert chosen["db1"] == (None, "stranded")
    published = result.data["custom_stats"]["_run"]["vfio_ap_maintenance_summary"]
    assert (
        "virsh migrate --live --persistent --undefinesource --domain hsm1 --desturi qemu+ssh://kvm-b1/system --migrateuri tcp://192.0.2.14"
        in published["commands"]
    )

    settled = {h: (live.writes(h), live.state(h)) for h in live.hosts}
    again = run_playbook(PLAYBOOK, inventory, extra_vars=extra, args=["--become"])
    assert again.rc == 0, again.stdout[-3000:]
    assert {h: (live.writes(h), live.state(h)) for h in live.hosts} == settled
