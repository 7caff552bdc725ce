"""Kernel generations (fleet key ``kernel:``): each host shows its generation's files and write semantics.

The fleet is tests/fleets/old-kernels.yml (one host per generation, same layout on each); what each
generation has is described in docs/kernel-generations.md.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from apsim.fleet import load_fleet
from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import
from apsim.testing import live_fleet_fixture, read_errno, sysfs_read, sysfs_write

pytestmark = pytest.mark.live

FLEET = Path(__file__).resolve().parents[1] / "fleets" / "old-kernels.yml"
live = live_fleet_fixture(FLEET)

MATRIX = "sys/devices/vfio_ap/matrix"
HOSTS = {"k612": "0612", "k610": "0610", "k60": "0600", "k517": "0517"}


def uuid(host: str, n: int) -> str:
    """Return the UUID of mdev n (1 = web, running guest; 2 = spare; 3 = empty) on a host of the fleet."""
    return f"0d000000-0000-4000-8000-000000{HOSTS[host]}0{n}"


def mdev_dir(live, host: str, n: int) -> Path:
    return live.host_dir(host) / MATRIX / uuid(host, n)


def test_fleet_uuids_match_helper():
    hosts = load_fleet(FLEET)
    for host in HOSTS:
        assert sorted(hosts[host].mdevs) == [uuid(host, n) for n in (1, 2, 3)]


@pytest.mark.parametrize(
    "host, features, ap_config, guest_matrix",
    [
        ("k612", "guest_matrix hotplug ap_config\n", True, True),
        ("k610", None, True, True),
        ("k60", None, False, True),
        ("k517", None, False, False),
    ],
)
def test_generation_files(live, host, features, ap_config, guest_matrix):
    feat = live.host_dir(host) / MATRIX / "features"
    if features is None:
        assert not feat.exists()
    else:
        assert sysfs_read(feat) == features
    mdev = mdev_dir(live, host, 1)
    assert (mdev / "ap_config").exists() is ap_config
    assert (mdev / "guest_matrix").exists() is guest_matrix
    assert not (mdev / "migratable").exists()
    # every generation has the individual assignment files, matrix and control_domains
    for name in ("assign_adapter", "unassign_domain", "assign_control_domain", "matrix", "control_domains", "remove"):
        assert (mdev / name).exists()
    assert sysfs_read(mdev / "matrix") == "01.0008\n"
    # the queue status attribute exists on every generation (v5.17 and later)
    assert sysfs_read(live.host_dir(host) / "sys/bus/ap/devices/01.0008/status") == "in use\n"
    assert sysfs_read(live.host_dir(host) / "sys/bus/ap/devices/02.0009/status") == "assigned\n"


@pytest.mark.parametrize(
    "attr, text",
    [
        ("assign_domain", "10\n"),
        ("assign_domain", "junk\n"),  # EBUSY comes before the input is parsed
        ("assign_adapter", "2"),
        ("assign_control_domain", "10"),
        ("unassign_domain", "8"),
        ("unassign_adapter", "1"),
        ("unassign_control_domain", "8"),
    ],
)
def test_static_kernel_refuses_changes_while_guest_runs(live, attr, text):
    before = live.state("k517")
    assert sysfs_write(mdev_dir(live, "k517", 1) / attr, text) == errno.EBUSY
    assert live.state("k517") == before


def test_dynamic_kernel_hot_plugs_into_running_guest(fresh_live_fleet):  # noqa: F811
    fleet = fresh_live_fleet(FLEET)
    mdev = mdev_dir(fleet, "k60", 1)
    assert sysfs_write(mdev / "assign_domain", "10") == 0
    assert sysfs_read(mdev / "guest_matrix") == "01.0008\n01.000a\n"
    assert sysfs_read(fleet.host_dir("k60") / "sys/bus/ap/devices/01.000a/status") == "in use\n"
    assert sysfs_write(mdev / "unassign_domain", "8") == 0
    assert sysfs_read(mdev / "matrix") == "01.000a\n"


@pytest.mark.parametrize(
    "host, steps, expected",
    [
        # adapter 5 has no card: the static kernel refuses what it cannot find bound to vfio_ap
        ("k517", [("assign_adapter", "5")], errno.EADDRNOTAVAIL),
        ("k60", [("assign_adapter", "5")], 0),
        # domain 3 is owned by the host drivers (aqmask 0-7): no vfio_ap queue has it
        ("k517", [("assign_domain", "3")], errno.EADDRNOTAVAIL),
        ("k517", [("assign_domain", "12")], 0),
        # with domain 12 assigned, adapter 5 needs queue 05.000c bound to vfio_ap
        ("k517", [("assign_domain", "12"), ("assign_adapter", "5")], errno.EADDRNOTAVAIL),
        ("k517", [("assign_domain", "12"), ("assign_adapter", "2")], 0),
        # sharing 02.0009 with the spare mdev
        ("k517", [("assign_domain", "9"), ("assign_adapter", "2")], errno.EADDRINUSE),
        ("k60", [("assign_domain", "9"), ("assign_adapter", "2")], errno.EADDRINUSE),
        # over the host limit is ENODEV everywhere
        ("k517", [("assign_domain", "85")], errno.ENODEV),
    ],
)
def test_assignment_rules_per_generation(fresh_live_fleet, host, steps, expected):  # noqa: F811
    fleet = fresh_live_fleet(FLEET)
    mdev = mdev_dir(fleet, host, 3)
    *setup, (attr, value) = steps
    for a, v in setup:
        assert sysfs_write(mdev / a, v) == 0
    before = fleet.state(host)
    assert sysfs_write(mdev / attr, value) == expected
    if expected:
        assert fleet.state(host) == before


def test_static_kernel_sharing_is_not_logged(fresh_live_fleet):  # noqa: F811
    fleet = fresh_live_fleet(FLEET)
    mdev = mdev_dir(fleet, "k517", 3)
    assert sysfs_write(mdev / "assign_domain", "9") == 0
    assert sysfs_write(mdev / "assign_adapter", "2") == errno.EADDRINUSE
    assert fleet.log("k517") == []


def test_ordered_assignment_on_kernel_without_ap_config(fresh_live_fleet):  # noqa: F811
    fleet = fresh_live_fleet(FLEET)
    for host in ("k60", "k517"):
        mdev = mdev_dir(fleet, host, 3)
        for attr, value in (("assign_adapter", "2"), ("assign_domain", "10"), ("assign_control_domain", "10")):
            assert sysfs_write(mdev / attr, value) == 0, (host, attr)
        assert sysfs_read(mdev / "matrix") == "02.000a\n"
        assert sysfs_read(mdev / "control_domains") == "000a\n"
        assert sysfs_read(fleet.host_dir(host) / "sys/bus/ap/devices/02.000a/status") == "assigned\n"


@pytest.mark.parametrize("host, expected", [("k60", errno.EBUSY), ("k517", 0)])
def test_mask_write_in_use_check_exists_from_v6_0(fresh_live_fleet, host, expected):  # noqa: F811
    """Handing assigned APQNs back to the host drivers: vfio_ap refuses from v6.0 (in_use callback)."""
    fleet = fresh_live_fleet(FLEET)
    bus = fleet.host_dir(host) / "sys/bus/ap"
    assert sysfs_write(bus / "aqmask", "+9") == expected
    if expected == 0:
        # the queue went back to cex4queue; the mdev keeps its assignment
        assert sysfs_read(mdev_dir(fleet, host, 2) / "matrix") == "02.0009\n"
        assert read_errno(fleet.host_dir(host) / "sys/bus/ap/devices/02.0009/status") == errno.ENOENT


def test_remove_refused_while_guest_runs_on_every_generation(live):
    for host in HOSTS:
        assert sysfs_write(mdev_dir(live, host, 1) / "remove", "1") == errno.EBUSY
