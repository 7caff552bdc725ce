"""The whole story on the demo fleet, live: audit -> prepare_destination -> audit again.

hsm1 (mdev ...a103 on kvm-a1) is blocked for kvm-b1 only by mdev_missing and apqn_not_bound;
prepare_destination (check mode first, then twice for real) must make it ready there, writing
nothing in check mode and nothing on the second run. A guest that preparation cannot fix is
refused before anything is written. Finally the simulator executes the migration the check
predicted: refused by libvirt (no mdev) before the preparation, the guest moves after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apsim.testing import live_fleet_fixture
from helpers.ansible_run import local_inventory, run_playbook
from helpers.plan_cells import cell

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"
DB1 = "6c1a0000-0000-4000-8000-00000000a102"

live = live_fleet_fixture(ROOT / "tests" / "fleets" / "demo.yml")


@pytest.fixture(scope="module")
def inventory(live, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("story")
    hosts = {name: {"vfio_ap_sysroot": str(live.host_dir(name))} for name in ("kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3")}
    return local_inventory(hosts, work / "inventory.yml")


def audit(inventory: Path, report_dir: Path) -> dict:
    result = run_playbook(PLAYBOOKS / "audit.yml", inventory, extra_vars={"vfio_ap_audit_report_dir": str(report_dir)})
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((report_dir / "readiness.json").read_text())


def guest(document: dict, uuid: str) -> dict:
    return next(g for g in document["plan"]["guests"] if g["uuid"] == uuid)


def cell_codes(entry: dict, host: str) -> list[str]:
    found = cell(entry, host)
    assert found is not None, host
    return found[1]


def prepare(inventory: Path, check: bool = False, **extra) -> object:
    extra_vars = {"vfio_ap_destination_host": "kvm-b1", "vfio_ap_destination_source": "kvm-a1", **extra}
    return run_playbook(PLAYBOOKS / "prepare_destination.yml", inventory, extra_vars=extra_vars, check=check, diff=check)


def test_refused_when_preparation_cannot_help(live, inventory):
    """db1 -> kvm-b1 is blocked by an older card: the role fails naming it and writes nothing."""
    before = live.writes("kvm-b1")
    result = prepare(inventory, vfio_ap_destination_uuids=DB1)
    assert result.rc != 0
    assert "hw_type_older" in result.stdout
    assert live.writes("kvm-b1") == before


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"vfio_ap_destination_guests": "nosuchguest"}, "nosuchguest"),
        ({"vfio_ap_destination_source": "nosuchhost", "vfio_ap_destination_guests": "hsm1"}, "nosuchhost"),
        ({}, "vfio_ap_destination_uuids and vfio_ap_destination_guests are both empty"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(live, inventory, extra, message):
    before = live.writes("kvm-b1")
    result = prepare(inventory, **extra)
    assert result.rc != 0
    assert message in result.stdout
    assert live.writes("kvm-b1") == before


def test_audit_prepare_audit(live, inventory, tmp_path):
    # 1. The audit: hsm1 is ready after preparation on kvm-b1, blocked there by exactly these codes.
    first = audit(inventory, tmp_path / "before")
    entry = guest(first, HSM1)
    assert entry["guest"] == "hsm1"
    assert cell(entry, "kvm-b1")[0] == "ready_after"
    assert cell_codes(entry, "kvm-b1") == ["apqn_not_bound", "mdev_missing"]
    refused = live.migrate("kvm-a1", "kvm-b1", HSM1)  # what the audit predicts: libvirt finds no mdev
    assert (refused["result"], refused["by"], refused["error"]) == ("refused", "libvirt", "ENODEV"), refused

    # 2. Check mode: reports what would change, writes nothing to the destination.
    writes = live.writes("kvm-b1")
    state = live.state("kvm-b1")
    dry = prepare(inventory, check=True, vfio_ap_destination_guests="hsm1")
    assert dry.rc == 0, dry.stdout[-3000:]
    assert dry.changed_total() > 0
    assert live.writes("kvm-b1") == writes
    assert live.state("kvm-b1") == state

    # 3. For real (guest name given as survey text): changes, then verifies readiness itself.
    real = prepare(inventory, vfio_ap_destination_guests="hsm1")
    assert real.rc == 0, real.stdout[-3000:]
    assert real.changed_total() > 0
    assert live.writes("kvm-b1") > writes
    verified = real.task_results("s390x.vfio_ap.destination : Verify that every mdev is ready now")["kvm-b1"]
    assert not verified.get("failed")
    state = live.state("kvm-b1")
    assert HSM1 in state["mdevs"]
    assert 3 not in state["aqmask"]  # domain 3 now reserved for vfio_ap

    # 4. Idempotent: a second run (by UUID this time) changes nothing and writes nothing.
    writes = live.writes("kvm-b1")
    again = prepare(inventory, vfio_ap_destination_uuids=[HSM1])
    assert again.rc == 0, again.stdout[-3000:]
    assert again.changed_total() == 0
    assert live.writes("kvm-b1") == writes

    # 5. The audit again: hsm1 is ready for kvm-b1, and the summary counts it as ready.
    second = audit(inventory, tmp_path / "after")
    entry = guest(second, HSM1)
    assert entry["verdict"] == "ready"
    assert cell(entry, "kvm-b1")[0] == "ready"
    assert cell_codes(entry, "kvm-b1") == []
    assert second["summary"]["ready"] == first["summary"]["ready"] + 1

    # 6. The simulator executes the migration the audit now calls ready: hsm1 moves to kvm-b1.
    record = live.migrate("kvm-a1", "kvm-b1", HSM1)
    assert record["result"] == "moved", record
    assert live.state("kvm-b1")["mdevs"][HSM1]["guest"] == "hsm1"
    assert live.state("kvm-a1")["mdevs"][HSM1]["guest"] is None
    assert (live.host_dir("kvm-b1") / "run/libvirt/qemu/hsm1.xml").is_file()
    assert not (live.host_dir("kvm-a1") / "run/libvirt/qemu/hsm1.xml").exists()
