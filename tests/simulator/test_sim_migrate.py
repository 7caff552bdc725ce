"""The simulator's execution of the series' live migration (apsim.migration), its CLI and the virsh shim.

The rule tests run the migration in-process on hosts built from small fleet dicts (a source host
``src`` and a destination ``dst`` that differ in one thing per case); the CLI and virsh tests run
against live mounts.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apsim import migration
from apsim.fleet import build_fleet
from apsim.live import CONTROL_DIR, subprocess_env
from apsim.render import write_host_files
from apsim.testing import fresh_live_fleet, sysfs_read, sysfs_write  # noqa: F401  # pylint: disable=unused-import

ROOT = Path(__file__).resolve().parents[2]
VIRSH = ROOT / "tests" / "apsim" / "bin" / "virsh"
HOOK = ROOT / "roles" / "migratable" / "files" / "vfio-ap-qemu-hook"
APSIM = [sys.executable, "-m", "apsim"]

U = "70000000-0000-4000-8000-000000000001"  # the guest's mdev (g1), 01.0008 with control domain 8
V = "70000000-0000-4000-8000-000000000002"  # another mdev on the destination
P = f"vfio_ap_mdev {U}"

CCA = 0x72800000  # M C D N + native: the simulator's default CEX8C functions


def pair(src: dict | None = None, dst: dict | None = None, src_card: dict | None = None, dst_card: dict | None = None,
         src_mdev: dict | None = None, dst_mdevs: list | None = None) -> dict:  # fmt: skip
    """Return a two-host fleet: guest g1 on src uses mdev U (01.0008, control domain 8); dst has an empty mdev U."""
    hosts = {}
    for name, over, card, mdevs in (
        ("src", src, src_card, [{"uuid": U, "adapters": [1], "domains": [8], "control_domains": [8], "guest": "g1", **(src_mdev or {})}]),
        ("dst", dst, dst_card, dst_mdevs if dst_mdevs is not None else [{"uuid": U}]),
    ):
        host = {"migration": "kernel", "aqmask": "0-7", "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", **(card or {})}],
                "mdevs": mdevs}  # fmt: skip
        host.update(over or {})
        hosts[name] = host
    return {"hosts": hosts}


def setup(fleet: dict, tmp_path: Path):
    hosts = build_fleet(copy.deepcopy(fleet))
    roots = {}
    for name, host in hosts.items():
        roots[name] = tmp_path / name
        write_host_files(host, roots[name])
    return hosts, roots


def files(roots: dict[str, Path]) -> dict[str, str]:
    """Return every file below the hosts' etc/ and run/ trees with its text."""
    return {str(p.relative_to(r.parent)): p.read_text() for r in roots.values() for p in sorted(r.rglob("*")) if p.is_file()}


ATTR = {"migration": "attribute"}

# (case id, fleet, errno, who refused, host whose log has the reason, lines the log must contain)
REFUSALS = [
    ("queue_missing", pair(dst_card={"domains": "0-7,9-15"}), errno.ENODEV, "kernel", "dst",
     [f"{P}: Queue 01.0008 not available to vfio_ap driver on target host"]),
    ("queue_not_bound", pair(dst={"aqmask": "0-8"}), errno.ENODEV, "kernel", "dst",
     [f"{P}: Queue 01.0008 not available to vfio_ap driver on target host"]),
    ("control_domain_missing", pair(dst={"control_domains": "0-7"}), errno.ENODEV, "kernel", "dst",
     [f"vfio_ap_mdev: {U}: Control domain 0008 not available on the destination host"]),
    ("hw_type_older", pair(dst_card={"type": "CEX7C"}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Migration failed: Source and target queue (01.0008) not compatible",
      f"{P}: AP type of source (0e) not compatible with target (0d)"]),
    ("hw_mode", pair(dst_card={"type": "CEX8A"}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Coprocessor-mode facility installed in source queue 01.0008",
      f"{P}: Coprocessor-mode  facility not installed target queue 01.0008",
      f"{P}: Accelerator-mode facility not installed source queue 01.0008",
      f"{P}: Accelerator-mode facility installed target queue 01.0008"]),
    ("hw_apsc", pair(dst_card={"functions": CCA | 0x80000000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: APSC facility not installed in source queue 01.0008", f"{P} APSC facility installed in target queue 01.0008"]),
    ("hw_ap4km", pair(dst_card={"functions": CCA & ~0x40000000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: mex4k facility installed in source queue 01.0008", f"{P}: mex4k facility not installed in target queue 01.0008"]),
    ("hw_ap4kc", pair(src_card={"functions": CCA & ~0x20000000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: crt4k facility not installed in source queue 01.0008", f"{P}: crt4k facility installed in target queue 01.0008"]),
    ("hw_apxa", pair(dst_card={"functions": CCA & ~0x02000000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: AP-extended-addressing (APXA) facility installed in source queue 01.0008"]),
    ("hw_slcf", pair(dst_card={"functions": CCA | 0x01000000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Stateless-command-filtering (SLCF) not available in source queue 01.0008",
      f"{P}: Stateless-command-filtering (SLCF) available in target queue 01.0008"]),
    ("hw_class", pair(dst_card={"functions": 0x72400000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Full native card function available on source queue 01.0008",
      f"{P}: Only stateless functions available on target queue 01.0008"]),
    ("se_source", pair(src_card={"queues": {8: {"bs": 1}}}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Bind/associate state for source (1) and target (0) queue 01.0008 must be 0"]),
    ("se_destination", pair(dst_card={"queues": {8: {"bs": 2}}}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Bind/associate state for source (0) and target (2) queue 01.0008 must be 0"]),
    ("se_both_sides_same_state", pair(src_card={"queues": {8: {"bs": 1}}}, dst_card={"queues": {8: {"bs": 1}}}), errno.EINVAL, "kernel",
     "dst", [f"{P}: Bind/associate state for source (1) and target (1) queue 01.0008 must be 0"]),
    ("tapq_fails_on_destination", pair(dst_card={"queues": {8: {"eio": True}}}), errno.EIO, "kernel", "dst",
     [f"{P}:Failed to get hwinfo for queue 01.0008: TAPQ rc=6"]),
    ("tapq_fails_on_source", pair(src_card={"queues": {8: {"eio": True}}}), errno.EIO, "kernel", "src",
     [f"{P}:Failed to get hwinfo for queue 01.0008: TAPQ rc=6"]),
    ("tapq_rc7_on_destination", pair(dst_card={"queues": {8: {"tapq_rc": 7}}}), errno.EIO, "kernel", "dst",
     [f"{P}:Failed to get hwinfo for queue 01.0008: TAPQ rc=7"]),
    ("tapq_queue_not_available_on_destination", pair(dst_card={"queues": {8: {"tapq_rc": 1}}}), errno.ENODEV, "kernel", "dst",
     [f"{P}: Failed to get hwinfo for queue 01.0008: TAPQ rc=1"]),
    ("tapq_queue_not_available_on_source", pair(src_card={"queues": {8: {"tapq_rc": 1}}}), errno.ENODEV, "kernel", "src",
     [f"{P}: Failed to get hwinfo for queue 01.0008: TAPQ rc=1"]),
    ("tapq_queue_not_available_even_with_an_async_error", pair(dst_card={"queues": {8: {"tapq_rc": 1, "tapq_async": True}}}),
     errno.ENODEV, "kernel", "dst", [f"{P}: Failed to get hwinfo for queue 01.0008: TAPQ rc=1"]),
    ("hw_extra_mode_bit_on_destination", pair(dst_card={"functions": CCA | 0x04000000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Migration failed: Source and target queue (01.0008) not compatible",
      f"{P}: XCP-mode facility not installed source queue 01.0008",
      f"{P}: XCP-mode facility installed target queue 01.0008"]),
    ("hw_extra_mode_bit_on_source", pair(src_card={"functions": CCA | 0x08000000}), errno.EINVAL, "kernel", "dst",
     [f"{P}: Migration failed: Source and target queue (01.0008) not compatible",
      f"{P}: Accelerator-mode facility installed source queue 01.0008",
      f"{P}: Accelerator-mode facility not installed target queue 01.0008"]),
    ("apqn_in_use", pair(dst_mdevs=[{"uuid": U}, {"uuid": V, "adapters": [1], "domains": [8]}]), errno.EADDRINUSE, "kernel", "dst",
     [f"{P}: Userspace may not assign queue 01.0008 to mdev: already assigned to {V}"]),
    ("mdev_missing", pair(dst_mdevs=[]), errno.ENODEV, "libvirt", "dst", []),
    ("mdev_in_use", pair(dst_mdevs=[{"uuid": U, "guest": "other"}]), errno.EBUSY, "libvirt", "dst", []),
    ("level_none_source", pair(src={"migration": "none"}), errno.EOPNOTSUPP, "qemu", "src", []),
    ("level_none_destination", pair(dst={"migration": "none"}), errno.EINVAL, "qemu", "dst", []),
    # series v1/v2 (validation only) on the destination
    ("attribute_count_smaller", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1}), errno.E2BIG, "kernel", "dst",
     [f"{P}: migration failed: number of queues on source (1) and target (0) guests differ"]),
    ("attribute_count_larger", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1},
                                    dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8, 9]}]), errno.ENODEV, "kernel", "dst",
     [f"{P}: migration failed: number of queues on source (1) and target (2) guests differ"]),
    ("attribute_set_mismatch", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1},
                                    dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [9]}]), errno.ENODEV, "kernel", "dst",
     [f"{P}: migration failed: queue 01.0008 not assigned to guest matrix"]),
    ("attribute_hw_type_older", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1}, dst_card={"type": "CEX7C"},
                                     dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8]}]), errno.EFAULT, "kernel", "dst",
     [f"{P}: Migration failed: Source and target queue (01.0008) not compatible",
      f"{P}: AP type of source (0e) not compatible with target (0d)"]),
    ("attribute_class_stateless_to_native", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1}, src_card={"functions": 0x72400000},
                                                 dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8]}]), errno.EFAULT, "kernel", "dst",
     [f"{P}: Migration failed: Source and target queue (01.0008) not compatible"]),
    ("v1_migratable_0", pair(src=ATTR, src_mdev={"migratable": 0}), errno.EPERM, "qemu", "src", []),
]  # fmt: skip


@pytest.mark.parametrize("fleet, code, by, where, lines", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusal_names_the_kernels_reason_and_changes_nothing(tmp_path, fleet, code, by, where, lines):
    hosts, roots = setup(fleet, tmp_path)
    before = ({n: h.dump_state() for n, h in hosts.items()}, files(roots), {n: list(h.log) for n, h in hosts.items()})
    record = migration.migrate(hosts, roots, "src", "dst", U)
    assert (record["result"], record["errno"], record["by"], record["host"]) == ("refused", code, by, where), record
    assert {n: h.dump_state() for n, h in hosts.items()} == before[0]
    assert files(roots) == before[1]
    assert hosts[where].log == before[2][where] + record["log"]  # only the reason was logged, on that host
    other = "src" if where == "dst" else "dst"
    assert hosts[other].log == before[2][other]
    assert record["log"][: len(lines)] == lines or all(line in record["log"] for line in lines), record["log"]
    if by == "kernel":
        assert record["reason"] == "; ".join(record["log"]) and record["log"]
    else:
        assert record["log"] == [] and record["reason"] and "\n" not in record["reason"]
    assert record["virsh"] and record["virsh"][0].startswith("error: ")


def test_hw_refusal_logs_every_difference_of_every_queue_in_the_kernels_order(tmp_path):
    fleet = pair(src_mdev={"adapters": [1, 2]}, src_card={}, dst_card={"type": "CEX7C", "functions": 0x53400000})
    fleet["hosts"]["src"]["cards"].append({"id": 2, "type": "CEX8C", "domains": "0-15"})
    fleet["hosts"]["dst"]["cards"].append({"id": 2, "type": "CEX7C", "domains": "0-15"})
    hosts, roots = setup(fleet, tmp_path)
    record = migration.migrate(hosts, roots, "src", "dst", U)
    assert record["errno"] == errno.EINVAL
    assert record["log"] == [
        f"{P}: Migration failed: Source and target queue (01.0008) not compatible",
        f"{P}: crt4k facility installed in source queue 01.0008",
        f"{P}: crt4k facility not installed in target queue 01.0008",
        f"{P}: Stateless-command-filtering (SLCF) not available in source queue 01.0008",
        f"{P}: Stateless-command-filtering (SLCF) available in target queue 01.0008",
        f"{P}: AP type of source (0e) not compatible with target (0d)",
        f"{P}: Full native card function available on source queue 01.0008",
        f"{P}: Only stateless functions available on target queue 01.0008",
        f"{P}: Migration failed: Source and target queue (02.0008) not compatible",
        f"{P}: AP type of source (0e) not compatible with target (0d)",
    ]


def test_queue_availability_reports_every_missing_queue_before_failing(tmp_path):
    fleet = pair(src_mdev={"domains": [8, 9]}, dst={"aqmask": "0-8"}, dst_card={"domains": "0-8"})
    hosts, roots = setup(fleet, tmp_path)
    record = migration.migrate(hosts, roots, "src", "dst", U)
    assert record["errno"] == errno.ENODEV
    assert record["log"] == [f"{P}: Queue 01.0008 not available to vfio_ap driver on target host",
                             f"{P}: Queue 01.0009 not available to vfio_ap driver on target host"]  # fmt: skip


# (case id, fleet, the destination mdev's assignment afterwards)
SUCCESSES = [
    ("kernel_restores_the_source_config", pair(), {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_overwrites_a_preassignment", pair(dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [9, 10]}]),
     {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_newer_destination_type", pair(src_card={"type": "CEX7C"}), {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_stateless_to_native", pair(src_card={"functions": 0x72400000}), {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_checkstopped_destination_queue", pair(dst_card={"queues": {8: {"chkstop": True}}}),
     {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_filtered_guest_matrix", pair(src_mdev={"adapters": [1, 5]}), {"adapters": [1], "domains": [8], "control_domains": [8]}),
    # TAPQ answers that still give the word (reset in progress, deconfigured, check-stopped, busy)
    *[(f"kernel_tapq_rc{rc}_on_both_sides", pair(src_card={"queues": {8: {"tapq_rc": rc}}}, dst_card={"queues": {8: {"tapq_rc": rc}}}),
       {"adapters": [1], "domains": [8], "control_domains": [8]}) for rc in (2, 3, 4, 5)],
    ("kernel_tapq_error_with_async_error_pending", pair(dst_card={"queues": {8: {"tapq_rc": 6, "tapq_async": True}}}),
     {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_same_multi_mode_word", pair(src_card={"functions": CCA | 0x04000000}, dst_card={"functions": CCA | 0x04000000}),
     {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_empty_control_domain_mask_on_source", pair(src={"control_domains": []}, dst={"control_domains": []}),
     {"adapters": [1], "domains": [8], "control_domains": []}),
    ("attribute_ignores_tapq_errors", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1}, src_card={"queues": {8: {"tapq_rc": 6}}},
                                           dst_card={"queues": {8: {"tapq_rc": 1}}},
                                           dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8]}]),
     {"adapters": [1], "domains": [8], "control_domains": []}),
    ("attribute_keeps_the_destination_config", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1},
                                                    dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8]}]),
     {"adapters": [1], "domains": [8], "control_domains": []}),
    ("attribute_newer_destination_type", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1}, src_card={"type": "CEX7C"},
                                              dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8]}]),
     {"adapters": [1], "domains": [8], "control_domains": []}),
    # series v1/v2 compare the hwinfo each queue copied from its card at probe, which has no bind state
    ("attribute_does_not_see_the_bind_state", pair(src=ATTR, dst=ATTR, src_mdev={"migratable": 1}, src_card={"queues": {8: {"bs": 1}}},
                                                   dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8]}]),
     {"adapters": [1], "domains": [8], "control_domains": []}),
    ("attribute_source_kernel_destination", pair(src=ATTR, src_mdev={"migratable": 1}),
     {"adapters": [1], "domains": [8], "control_domains": [8]}),
    ("kernel_source_attribute_destination", pair(dst=ATTR, dst_mdevs=[{"uuid": U, "adapters": [1], "domains": [8]}]),
     {"adapters": [1], "domains": [8], "control_domains": []}),
]  # fmt: skip


@pytest.mark.parametrize("fleet, assigned", [c[1:] for c in SUCCESSES], ids=[c[0] for c in SUCCESSES])
def test_success_moves_the_guest(tmp_path, fleet, assigned):
    hosts, roots = setup(fleet, tmp_path)
    status = (roots["src"] / "run/libvirt/qemu/g1.xml").read_text()
    record = migration.migrate(hosts, roots, "src", "dst", U)
    assert (record["result"], record["errno"], record["guest"]) == ("moved", 0, "g1"), record
    src, dst = hosts["src"].dump_state()["mdevs"][U], hosts["dst"].dump_state()["mdevs"][U]
    assert src["guest"] is None and src["adapters"] == fleet["hosts"]["src"]["mdevs"][0]["adapters"]  # idle, still defined
    assert dst["guest"] == "g1"
    assert {k: dst[k] for k in assigned} == assigned
    assert not (roots["src"] / "run/libvirt/qemu/g1.xml").exists()
    assert (roots["dst"] / "run/libvirt/qemu/g1.xml").read_text() == status
    assert hosts["dst"].queue_status(1, 8) == "in use" and hosts["src"].queue_status(1, 8) == "assigned"
    assert hosts["dst"].log == [] and hosts["src"].log == []


@pytest.mark.parametrize(
    "source, destination, uuid, words",
    [
        ("src", "nowhere", U, "no host 'nowhere' (destination)"),
        ("nowhere", "dst", U, "no host 'nowhere' (source)"),
        ("src", "src", U, "the same host"),
        ("src", "dst", "not-a-uuid", "is not a UUID"),
        ("src", "dst", V, f"host src has no mdev {V}"),
        ("dst", "src", U, "is not in use by a running guest"),
    ],
)
def test_a_wrong_request_is_invalid_and_changes_nothing(tmp_path, source, destination, uuid, words):
    hosts, roots = setup(pair(), tmp_path)
    before = ({n: h.dump_state() for n, h in hosts.items()}, files(roots))
    record = migration.migrate(hosts, roots, source, destination, uuid)
    assert record["result"] == "invalid" and record["errno"] == errno.EINVAL and words in record["reason"]
    assert ({n: h.dump_state() for n, h in hosts.items()}, files(roots)) == before


def test_saved_stream_is_the_post_v4_layout(tmp_path):
    fleet = pair(src_mdev={"adapters": [1, 2], "domains": [8, 9], "control_domains": [8, 40]})
    fleet["hosts"]["src"]["cards"].append({"id": 2, "type": "CEX8P", "domains": "0-15", "queues": {9: {"bs": 1}}})
    hosts, _roots = setup(fleet, tmp_path)
    src = hosts["src"]
    data = migration.save(src, src.mdevs[U])
    assert len(data) == 48 + 16 * 4
    assert data[:8] == b"vfap\x00\x00\x00\x01" and data[8:12] == b"\x00\x00\x00\x04"
    assert data[16] == 0x00 and data[17] == 0x80  # ADM bit 8 (MSB = domain 0); 40 is not a control domain of the host
    blob = migration.Blob.unpack(data)
    assert [apqn for apqn, _v in blob.queues] == [(1, 8), (1, 9), (2, 8), (2, 9)]  # APID, then APQI
    assert blob.adm == [8]
    # GR2: ap_functions with the bind state, AT (raw type), ND (max domain id), QD (depth)
    assert blob.queues[0][1] == 0x72800000_0E540008
    assert blob.queues[3][1] == 0x06804000_0E540008  # EP11 + APXA + native, bind state 1
    with pytest.raises(OSError) as info:
        migration.Blob.unpack(b"xxxx" + data[4:])
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        migration.Blob.unpack(data[:-1])
    assert info.value.errno == errno.EIO


# ============================================================================ live: CLI and virsh

WEB1 = "6c1a0000-0000-4000-8000-00000000a101"  # demo: web1 on kvm-a1, ready for kvm-b1
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"  # demo: hsm1 on kvm-a1, needs preparation on kvm-b1
SEC1 = "6c1a0000-0000-4000-8000-00000000b102"  # demo: sec1 on kvm-b1, Secure Execution queue 02.000a


def cli(mount: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*APSIM, "migrate", str(mount), *args], capture_output=True, text=True, env=subprocess_env(), check=False)


def virsh(mount: Path | None, *args: str, host: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"]}
    if mount is not None:
        env["APSIM_MOUNT"] = str(mount)
    if host:
        env["APSIM_HOST"] = host
    return subprocess.run([str(VIRSH), *args], capture_output=True, text=True, env=env, check=False, timeout=120)


def snapshot(live) -> tuple:
    """Return every host's state and etc/run files of a live mount (for nothing-changed checks)."""
    states = {h: live.state(h) for h in live.hosts}
    texts = {}
    for h in live.hosts:
        for sub in ("etc", "run"):
            for p in sorted((live.root / h / sub).rglob("*")):
                if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts:  # a hook's bytecode cache is no change
                    texts[str(p.relative_to(live.root))] = p.read_bytes()
    return states, texts


@pytest.mark.live
def test_cli_moves_demo_web1_to_its_ready_destination_and_reports_refusals(fresh_live_fleet, demo_fleet_path):  # noqa: F811
    live = fresh_live_fleet(demo_fleet_path)
    mount = live.root
    moved = cli(mount, "kvm-a1", "kvm-b1", WEB1)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout == f"apsim: guest web1 (mdev {WEB1}) moved from kvm-a1 to kvm-b1\n"
    assert live.state("kvm-b1")["mdevs"][WEB1]["guest"] == "web1"
    assert live.state("kvm-b1")["mdevs"][WEB1]["adapters"] == [1] and live.state("kvm-b1")["mdevs"][WEB1]["domains"] == [4]
    assert live.state("kvm-a1")["mdevs"][WEB1]["guest"] is None
    assert sysfs_read(mount / "kvm-b1/sys/bus/ap/devices/01.0004/status") == "in use\n"
    assert sysfs_read(mount / "kvm-a1/sys/bus/ap/devices/01.0004/status") == "assigned\n"
    assert sysfs_read(mount / f"kvm-b1/sys/devices/vfio_ap/matrix/{WEB1}/guest_matrix") == "01.0004\n"
    assert (mount / "kvm-b1/run/libvirt/qemu/web1.xml").is_file() and not (mount / "kvm-a1/run/libvirt/qemu/web1.xml").exists()

    # a kernel refusal: Secure Execution queue on the source (after creating the same-UUID mdev on kvm-a1)
    create = mount / "kvm-a1/sys/devices/vfio_ap/matrix/mdev_supported_types/vfio_ap-passthrough/create"
    assert sysfs_write(create, SEC1) == 0
    before = snapshot(live)
    refused = cli(mount, "kvm-b1", "kvm-a1", SEC1)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("apsim: migration refused by the kernel on kvm-a1 (EINVAL): ")
    assert f"vfio_ap_mdev {SEC1}: Bind/associate state for source (1) and target (0) queue 02.000a must be 0" in refused.stderr
    assert snapshot(live) == before
    kern = (mount / "kvm-a1/var/log/kern.log").read_text().splitlines()
    assert kern[-1].endswith(
        f" kvm-a1 kernel: vfio_ap_mdev {SEC1}: Bind/associate state for source (1) and target (0) queue 02.000a must be 0"
    )
    assert kern[-2].endswith(f"kernel: vfio_ap_mdev {SEC1}: Migration failed: Source and target queue (02.000a) not compatible")
    assert live.log("kvm-a1")[-2:] == [k.split(" kernel: ", 1)[1] for k in kern[-2:]]
    records = json.loads((mount / CONTROL_DIR / "migrations").read_text())
    assert [r["result"] for r in records] == ["moved", "refused"] and records[1]["errno"] == errno.EINVAL
    again = live.migrate("kvm-b1", "kvm-a1", SEC1)  # the Python API: the same refusal, same record keys
    assert {k: again[k] for k in ("result", "errno", "by", "host", "log")} == {
        k: records[1][k] for k in ("result", "errno", "by", "host", "log")
    }
    assert set(again) == set(records[1]) and again["id"] != records[1]["id"]

    # a libvirt refusal: no mdev with the same UUID on the destination
    missing = cli(mount, "kvm-a1", "kvm-b1", HSM1)
    assert missing.returncode == 1
    assert (
        missing.stderr == f"apsim: migration refused by libvirt on kvm-b1 (ENODEV): device not found: mediated device '{HSM1}' not found\n"
    )


@pytest.mark.live
@pytest.mark.parametrize(
    "args, words",
    [
        (["kvm-a1", "kvm-zz", WEB1], "no host 'kvm-zz' (destination)"),
        (["kvm-a1", "kvm-b1", "6c1a0000-0000-4000-8000-0000000000ff"], "host kvm-a1 has no mdev"),
        (["kvm-b1", "kvm-a1", WEB1], "is not in use by a running guest"),  # the landing mdev on kvm-b1 is idle
        (["kvm-a1", "kvm-a1", WEB1], "the same host"),
    ],
)
def test_cli_bad_arguments_exit_2(live_demo, args, words):
    result = cli(live_demo.root, *args)
    assert result.returncode == 2 and result.stderr.startswith("apsim: migrate: ") and words in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory, demo_fleet_path):
    from conftest import require_live

    from apsim.live import mounted

    require_live()
    with mounted(demo_fleet_path, tmp_path_factory.mktemp("demo")) as live:
        yield live


@pytest.mark.live
def test_cli_on_a_path_that_is_no_mount_exits_2(tmp_path):
    result = cli(tmp_path, "a", "b", WEB1)
    assert result.returncode == 2 and "is not a live apsim mount" in result.stderr


@pytest.mark.live
def test_virsh_migrates_with_libvirt_options_and_answers_domstate_and_list(fresh_live_fleet, demo_fleet_path):  # noqa: F811
    live = fresh_live_fleet(demo_fleet_path)
    mount = live.root
    assert virsh(mount, "-c", "qemu+ssh://kvm-b1/system", "list", "--name").stdout == "ai1\nmq1\nsec1\n\n"
    assert virsh(mount, "domstate", "web1", host="kvm-a1").stdout == "running\n\n"
    result = virsh(mount, "migrate", "--live", "--persistent", "--undefinesource", "--p2p", "--tunnelled", "--auto-converge",
                   "--timeout", "30", "web1", "qemu+ssh://root@kvm-b1.example.com/system")  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert virsh(mount, "-c", "qemu+ssh://kvm-b1/system", "domstate", "web1").stdout == "running\n\n"
    gone = virsh(mount, "-c", "qemu+ssh://kvm-a1/system", "domstate", "web1")
    assert (gone.returncode, gone.stderr) == (1, "error: failed to get domain 'web1'\n")  # undefined on the source
    assert virsh(mount, "list", "--name", host="kvm-b1").stdout == "ai1\nmq1\nsec1\nweb1\n\n"
    assert "web1" not in virsh(mount, "list", "--name", host="kvm-a1").stdout
    assert (mount / "kvm-b1/etc/libvirt/qemu/web1.xml").is_file() and not (mount / "kvm-a1/etc/libvirt/qemu/web1.xml").exists()
    assert live.state("kvm-b1")["mdevs"][WEB1]["guest"] == "web1"
    # and back, without --persistent: the destination keeps no definition, the source's stays
    back = virsh(mount, "migrate", "--live", "--verbose", "web1", "qemu+ssh://kvm-a1/system")
    assert (back.returncode, back.stderr) == (0, "Migration: [100 %]\n")
    assert virsh(mount, "domstate", "web1", host="kvm-a1").stdout == "running\n\n"
    assert not (mount / "kvm-a1/etc/libvirt/qemu/web1.xml").exists()
    assert virsh(mount, "domstate", "web1", host="kvm-b1").stdout == "shut off\n\n"  # still defined there
    listing = virsh(mount, "list", "--all", host="kvm-b1").stdout.splitlines()
    assert listing[0].split() == ["Id", "Name", "State"] and listing[-1] == ""
    assert [r.split() for r in listing[2:-1]] == [["1", "ai1", "running"], ["2", "mq1", "running"], ["3", "sec1", "running"],
                                                  ["-", "web1", "shut", "off"]]  # fmt: skip


@pytest.mark.live
def test_virsh_refusal_prints_libvirts_error_and_changes_nothing(fresh_live_fleet, demo_fleet_path):  # noqa: F811
    live = fresh_live_fleet(demo_fleet_path)
    mount = live.root
    missing = virsh(mount, "migrate", "--live", "hsm1", "qemu+ssh://kvm-b1/system")
    assert (missing.returncode, missing.stderr) == (1, f"error: device not found: mediated device '{HSM1}' not found\n")
    create = mount / "kvm-b1/sys/devices/vfio_ap/matrix/mdev_supported_types/vfio_ap-passthrough/create"
    assert sysfs_write(create, HSM1) == 0
    before = snapshot(live)
    refused = virsh(mount, "migrate", "--live", "hsm1", "qemu+ssh://kvm-b1/system")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == ("error: internal error: QEMU unexpectedly closed the monitor (vm='hsm1'): qemu-system-s390x: "
                              "Failed to load vmstate version_id: 1, ret: -19\n"
                              "qemu-system-s390x: load of migration failed: No such device\n")  # fmt: skip
    assert snapshot(live) == before
    assert (
        (mount / "kvm-b1/var/log/kern.log")
        .read_text()
        .endswith(f" kvm-b1 kernel: vfio_ap_mdev {HSM1}: Queue 02.0003 not available to vfio_ap driver on target host\n")
    )
    legacy = virsh(mount, "migrate", "--live", "legacy3", "qemu+ssh://kvm-b3/system")
    assert legacy.returncode == 1
    assert legacy.stderr == ("error: Requested operation is not valid: cannot migrate domain: "
                             "6c1a0000-0000-4000-8000-00000000a301: VFIO migration is not supported in kernel\n")  # fmt: skip


@pytest.mark.live
@pytest.mark.parametrize(
    "args, env_mount, host, stderr",
    [
        (["migrate", "--live", "nosuch", "qemu+ssh://kvm-b1/system"], True, None, "error: failed to get domain 'nosuch'\n"),
        (
            ["migrate", "--live", "web1", "qemu+ssh://kvm-q9/system"],
            True,
            None,
            "error: failed to connect to the hypervisor\nerror: Cannot recv data: ssh: Could not resolve hostname kvm-q9: "
            "Name or service not known: Connection reset by peer\n",
        ),
        (
            ["migrate", "--live", "--bogus", "web1", "qemu+ssh://kvm-b1/system"],
            True,
            None,
            "error: command 'migrate' doesn't support option --bogus\n",
        ),
        (
            ["migrate", "--live", "--timeout", "soon", "web1", "qemu+ssh://kvm-b1/system"],
            True,
            None,
            "error: Numeric value 'soon' for <timeout> option is malformed or out of range\n",
        ),
        (["migrate", "--live", "web1"], True, None, "error: command 'migrate' requires <desturi> option\n"),
        (
            ["migrate", "--live", "web1", "qemu+ssh://kvm-a1/system"],
            True,
            None,
            "error: internal error: Attempt to migrate guest to the same host kvm-a1\n",
        ),
        (["domstate", "nosuch"], True, "kvm-a1", "error: failed to get domain 'nosuch'\n"),
        (["frobnicate"], True, None, "error: unknown command: 'frobnicate'\n"),
        (["list", "--name"], False, "kvm-a1", None),
        (["list", "--name"], True, None, None),
    ],
)
def test_virsh_error_paths(live_demo, args, env_mount, host, stderr):
    result = virsh(live_demo.root if env_mount else None, *args, host=host)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ")
    if stderr is not None:
        assert result.stderr == stderr
    else:
        assert result.stderr.startswith("error: failed to connect to the hypervisor\n")


def install_guard_hook(host_root: Path, uuid: str, migratable: bool) -> None:
    """Install the collection's hook as the migratable role does, with a guard entry for uuid."""
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, render_guard

    lib = host_root / "etc/libvirt/hooks/vfio_ap"
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copy(HOOK, lib / "vfio-ap-qemu-hook")
    for name in ("_guard.py", "_libvirt_xml.py"):
        shutil.copy(ROOT / "plugins/module_utils" / name, lib / name)
    hooks = host_root / "etc/libvirt/hooks/qemu.d"
    hooks.mkdir(parents=True, exist_ok=True)
    link = hooks / "50-vfio-ap-migration-guard"
    if not link.is_symlink():
        link.symlink_to("../vfio_ap/vfio-ap-qemu-hook")
    (host_root / GUARD_PATH).parent.mkdir(parents=True, exist_ok=True)
    entry = {"migratable": migratable, "reason": None if migratable else "CHG7 key change", "guest": "web1", "changed": None}
    (host_root / GUARD_PATH).write_text(render_guard({uuid: entry}))


@pytest.mark.live
def test_virsh_runs_the_destinations_hook_and_refuses_as_libvirt(fresh_live_fleet, demo_fleet_path):  # noqa: F811
    live = fresh_live_fleet(demo_fleet_path)
    mount = live.root
    install_guard_hook(mount / "kvm-b1", WEB1, migratable=False)
    before = snapshot(live)
    refused = virsh(mount, "migrate", "--live", "web1", "qemu+ssh://kvm-b1/system")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "error: Hook script execution failed: internal error: Child process (LC_ALL=C "
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin /etc/libvirt/hooks/qemu.d/50-vfio-ap-migration-guard "
        "web1 migrate begin -) unexpected exit status 1: vfio-ap migration guard: web1: "
    )
    assert WEB1 in refused.stderr and "CHG7 key change" in refused.stderr and str(mount / "kvm-b1") in refused.stderr
    assert snapshot(live) == before
    install_guard_hook(mount / "kvm-b1", WEB1, migratable=True)
    allowed = virsh(mount, "migrate", "--live", "web1", "qemu+ssh://kvm-b1/system")
    assert (allowed.returncode, allowed.stderr) == (0, "")
    assert live.state("kvm-b1")["mdevs"][WEB1]["guest"] == "web1"
