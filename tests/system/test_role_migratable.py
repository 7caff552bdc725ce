"""playbooks/set_migratable.yml (role s390x.vfio_ap.migratable) on the live demo fleet.

Disabling hsm1 (kernel-series host kvm-a1) and v1ok (series v1 host kvm-b2, per-mdev file) must
write v1ok's migratable file, put both UUIDs in the migration guard of every other host that
supports migration (potential destinations), leave kvm-a3 (no migration support) alone, and
install the libvirt hook where the guard is used. A second run changes nothing; check mode
changes nothing; enabling again lifts the guard and the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from apsim.testing import live_fleet_fixture
from helpers.ansible_run import local_inventory, run_playbook

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "set_migratable.yml"
HOSTS = ("kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3")
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"
V1OK = "6c1a0000-0000-4000-8000-00000000b202"
HOOK = "etc/libvirt/hooks/qemu.d/50-vfio-ap-migration-guard"

live = live_fleet_fixture(ROOT / "tests" / "fleets" / "demo.yml")


@pytest.fixture(scope="module")
def inventory(live, tmp_path_factory) -> Path:
    hosts = {name: {"vfio_ap_sysroot": str(live.host_dir(name))} for name in HOSTS}
    return local_inventory(hosts, tmp_path_factory.mktemp("migratable") / "inventory.yml")


def guard(live, host: str) -> dict:
    path = live.host_dir(host) / "etc/vfio_ap/migration-guard.json"
    return json.loads(path.read_text())["mdevs"] if path.exists() else {}


def snapshot(live) -> dict:
    return {h: (live.writes(h), live.state(h), guard(live, h)) for h in HOSTS}


def run(inventory: Path, state, check: bool = False):
    extra = {"vfio_ap_migratable_state": state, "vfio_ap_migratable_guests": "hsm1, v1ok", "vfio_ap_migratable_reason": "master-key change"}
    return run_playbook(PLAYBOOK, inventory, extra_vars=extra, check=check, diff=check)


def test_disable_enable_cycle(live, inventory):
    assert live.state("kvm-b2")["mdevs"][V1OK]["migratable"] == 1

    first = run(inventory, "disabled")
    assert first.rc == 0, first.stdout[-3000:]
    assert live.state("kvm-b2")["mdevs"][V1OK]["migratable"] == 0  # the v1 per-mdev file
    for host in ("kvm-a1", "kvm-a2", "kvm-b1", "kvm-b3"):  # kernel series: the guard, on every potential destination
        entries = guard(live, host)
        assert entries[HSM1]["migratable"] is False and entries[V1OK]["migratable"] is False, host
        assert entries[HSM1]["reason"] == "master-key change"
        hook = live.host_dir(host) / HOOK
        assert hook.is_symlink() and os.access(hook, os.X_OK), host
        assert (hook.resolve().parent / "_guard.py").exists()
    assert guard(live, "kvm-a3") == {}  # no migration support: nothing to guard
    assert not (live.host_dir("kvm-a3") / HOOK).exists()

    before = snapshot(live)
    second = run(inventory, "disabled")
    assert second.rc == 0, second.stdout[-3000:]
    assert second.changed_total() == 0
    assert snapshot(live) == before

    dry = run(inventory, "enabled", check=True)
    assert dry.rc == 0, dry.stdout[-3000:]
    assert dry.changed_total() > 0
    assert snapshot(live) == before

    enabled = run(inventory, "enabled")
    assert enabled.rc == 0, enabled.stdout[-3000:]
    assert live.state("kvm-b2")["mdevs"][V1OK]["migratable"] == 1
    for host in ("kvm-a1", "kvm-b1"):
        assert all(entry["migratable"] for entry in guard(live, host).values()), host


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"vfio_ap_migratable_guests": "nosuchguest"}, "nosuchguest"),
        ({"vfio_ap_migratable_guests": "hsm1", "vfio_ap_migratable_state": "off"}, "vfio_ap_migratable_state"),
        (
            {"vfio_ap_migratable_guests": "hsm1", "vfio_ap_migratable_hook_lib_dir": "../../../tmp/x"},
            'vfio_ap_migratable_hook_lib_dir: \\"../../../tmp/x\\" is not a normalized path below vfio_ap_sysroot',
        ),
        (
            {"vfio_ap_migratable_guests": "hsm1", "vfio_ap_migratable_hook_path": "etc/libvirt/hooks/../../../../qemu"},
            "vfio_ap_migratable_hook_path",
        ),
        ({"vfio_ap_migratable_guests": "hsm1", "vfio_ap_migratable_hook_path": "etc//hooks/./qemu"}, "no empty, '.' or '..' parts"),
        ({"vfio_ap_migratable_guests": "hsm1", "vfio_ap_migratable_hook_lib_dir": ""}, "vfio_ap_migratable_hook_lib_dir"),
    ],
    ids=["unknown guest", "bad state", "lib dir escapes", "hook path escapes", "hook path not normalized", "empty lib dir"],
)
def test_bad_input_changes_nothing(live, inventory, extra, message):
    before = snapshot(live)
    result = run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    assert result.rc != 0
    assert message in result.stdout
    assert snapshot(live) == before
