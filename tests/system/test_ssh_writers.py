"""The writing playbooks over real SSH connections with become and no sysroot.

prepare_destination makes kvm-b1 ready for hsm1 (mdev created with the real mdevctl of the
host's namespace, APQNs reserved); set_migratable puts hsm1 in the migration guard of every
potential destination, writes the v1 per-mdev file on kvm-b2 and installs the libvirt hook into
the host's /etc/libvirt/hooks, where libvirt would run it. Each write lands in the simulated host
(its live state, its files under the mount); check mode writes nothing; second runs change nothing.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from helpers.ansible_run import run_playbook
from helpers.ssh_fleet import ssh_fleet_fixture
from helpers.hang import HANG_GUARD

pytestmark = [pytest.mark.live, pytest.mark.ssh]

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"
V1OK = "6c1a0000-0000-4000-8000-00000000b202"
HOOK = "etc/libvirt/hooks/qemu.d/50-vfio-ap-migration-guard"
# sudo looks the command up as the login user, who cannot read the simulated trees (docs above)
HOOK_AS_ROOT = ["sudo", "-n", "sh", "-c", f'exec "/{HOOK}" hsm1 migrate begin -']
GUARDED = ("kvm-a1", "kvm-a2", "kvm-b1", "kvm-b3")  # kernel series: every potential destination

ssh = ssh_fleet_fixture(ROOT / "tests" / "fleets" / "demo.yml")


@pytest.fixture(scope="module")
def inventory(ssh, tmp_path_factory) -> Path:
    return ssh.inventory_with(tmp_path_factory.mktemp("inv") / "inventory.yml",
                              lambda _h, i: {"vfio_ap_migration_address": f"192.0.2.{i + 11}"})  # fmt: skip


def snapshot(live) -> dict:
    return {h: (live.writes(h), live.state(h), guard(live, h)) for h in live.hosts}


def guard(live, host: str) -> dict:
    path = live.host_dir(host) / "etc/vfio_ap/migration-guard.json"
    return json.loads(path.read_text())["mdevs"] if path.exists() else {}


def prepare(inventory: Path, check: bool = False):
    extra = {"vfio_ap_destination_host": "kvm-b1", "vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_guests": "hsm1"}
    return run_playbook(PLAYBOOKS / "prepare_destination.yml", inventory, extra_vars=extra, check=check, diff=check,
                        args=["--become"])  # fmt: skip


def migratable(inventory: Path, state: str, check: bool = False):
    extra = {"vfio_ap_migratable_state": state, "vfio_ap_migratable_guests": "hsm1, v1ok", "vfio_ap_migratable_reason": "master-key change"}
    return run_playbook(PLAYBOOKS / "set_migratable.yml", inventory, extra_vars=extra, check=check, diff=check,
                        args=["--become"])  # fmt: skip


def ssh_command(ssh, host: str, command: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    """Run command on a simulated host through its SSH server (what an operator's ssh would do)."""
    hostvars = ssh.hostvars()[host]
    argv = ["ssh", "-i", hostvars["ansible_ssh_private_key_file"], "-p", str(hostvars["ansible_port"]),
            *hostvars["ansible_ssh_common_args"].split(), "-o", "BatchMode=yes",
            f"{hostvars['ansible_user']}@{hostvars['ansible_host']}", shlex.join(command)]  # fmt: skip
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=HANG_GUARD, check=False)


def test_prepare_destination_over_ssh(ssh, inventory):
    live = ssh.live
    assert HSM1 not in live.state("kvm-b1")["mdevs"]
    writes, state = live.writes("kvm-b1"), live.state("kvm-b1")
    dry = prepare(inventory, check=True)
    assert dry.rc == 0, dry.stdout[-3000:] + dry.stderr[-2000:]
    assert dry.changed_total() > 0
    assert (live.writes("kvm-b1"), live.state("kvm-b1")) == (writes, state)

    real = prepare(inventory)
    assert real.rc == 0, real.stdout[-3000:] + real.stderr[-2000:]
    assert real.changed_total() > 0
    state = live.state("kvm-b1")
    assert HSM1 in state["mdevs"] and 3 not in state["aqmask"]
    # persisted by mdevctl inside the host's namespace: the definition is in the host's tree
    assert list((live.host_dir("kvm-b1") / "etc/mdevctl.d").rglob(HSM1))
    verified = real.task_results("s390x.vfio_ap.destination : Verify that every mdev is ready now")["kvm-b1"]
    assert not verified.get("failed")

    writes = live.writes("kvm-b1")
    again = prepare(inventory)
    assert again.rc == 0, again.stdout[-3000:]
    assert again.changed_total() == 0
    assert live.writes("kvm-b1") == writes


def test_set_migratable_over_ssh_installs_the_hook_on_the_host(ssh, inventory):
    live = ssh.live
    before = snapshot(live)
    dry = migratable(inventory, "disabled", check=True)
    assert dry.rc == 0, dry.stdout[-3000:] + dry.stderr[-2000:]
    assert dry.changed_total() > 0
    assert snapshot(live) == before
    assert not (live.host_dir("kvm-a1") / HOOK).exists()

    first = migratable(inventory, "disabled")
    assert first.rc == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert live.state("kvm-b2")["mdevs"][V1OK]["migratable"] == 0
    for host in GUARDED:
        entries = guard(live, host)
        assert entries[HSM1]["migratable"] is False and entries[HSM1]["reason"] == "master-key change", host
        hook = live.host_dir(host) / HOOK
        assert hook.is_symlink() and os.access(hook, os.X_OK), host
        assert (hook.resolve().parent / "_guard.py").exists()
    assert guard(live, "kvm-a3") == {} and not (live.host_dir("kvm-a3") / HOOK).exists()

    # libvirt on kvm-b1 would run the hook as root at /etc/libvirt/hooks/...: it refuses hsm1's migration
    xml = (live.host_dir("kvm-a1") / "run/libvirt/qemu/hsm1.xml").read_text()
    refused = ssh_command(ssh, "kvm-b1", HOOK_AS_ROOT, stdin=xml)
    assert refused.returncode == 1 and HSM1 in refused.stderr, refused.stderr

    settled = snapshot(live)
    second = migratable(inventory, "disabled")
    assert second.rc == 0, second.stdout[-3000:]
    assert second.changed_total() == 0
    assert snapshot(live) == settled

    enabled = migratable(inventory, "enabled")
    assert enabled.rc == 0, enabled.stdout[-3000:]
    assert live.state("kvm-b2")["mdevs"][V1OK]["migratable"] == 1
    assert all(entry["migratable"] for entry in guard(live, "kvm-b1").values())
    allowed = ssh_command(ssh, "kvm-b1", HOOK_AS_ROOT, stdin=xml)
    assert allowed.returncode == 0, allowed.stderr
