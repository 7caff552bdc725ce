"""Kernel behaviours of the live simulator, exercised through the real filesystem of a mounted host.

Every write is an open/write/close on the FUSE mount and its errno is checked; the model's state is
read back through the control channel. See docs/kernel-interface.md.
"""

from __future__ import annotations

import errno
import os
import stat

import pytest

from apsim.testing import live_fleet_fixture, read_errno, sysfs_read, sysfs_write
from simulator.simfleets import SYSFS_FLEET, U_CFG, U_GUEST, U_MASK, U_NEW, U_OWNER, U_PARSE, U_V1

pytestmark = pytest.mark.live

live = live_fleet_fixture(SYSFS_FLEET)

MATRIX = "sys/devices/vfio_ap/matrix"
TYPE = f"{MATRIX}/mdev_supported_types/vfio_ap-passthrough"
BUS = "sys/bus/ap"
ZERO = "0x" + "0" * 64


def mdev(live, host, uuid):
    return live.host_dir(host) / MATRIX / uuid


def mdev_state(live, host, uuid):
    return live.state(host)["mdevs"][uuid]


def reset(live, host, uuid):
    assert sysfs_write(mdev(live, host, uuid) / "ap_config", f"{ZERO},{ZERO},{ZERO}\n") == 0


def mask(*ids):
    bits = 0
    for i in ids:
        bits |= 1 << (255 - i)
    return f"0x{bits:064x}"


# ---------------------------------------------------------------------------------------- file modes


@pytest.mark.parametrize(
    "rel, mode",
    [
        (f"{MATRIX}/{U_PARSE}/assign_adapter", 0o200),
        (f"{MATRIX}/{U_PARSE}/unassign_control_domain", 0o200),
        (f"{MATRIX}/{U_PARSE}/remove", 0o200),
        (f"{TYPE}/create", 0o200),
        (f"{MATRIX}/{U_PARSE}/ap_config", 0o644),
        (f"{MATRIX}/{U_PARSE}/matrix", 0o444),
        (f"{BUS}/apmask", 0o644),
        (f"{BUS}/bindings", 0o444),
        (f"{BUS}/ap_max_domain_id", 0o444),
        ("sys/devices/ap/card05/type", 0o444),
    ],
)
def test_attribute_mode_and_size(live, rel, mode):
    st = os.lstat(live.host_dir("h63") / rel)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == mode
    assert st.st_size == 4096


@pytest.mark.parametrize(
    "rel, flags",
    [
        (f"{MATRIX}/{U_PARSE}/assign_adapter", os.O_RDONLY),
        (f"{MATRIX}/{U_PARSE}/unassign_domain", os.O_RDWR),
        (f"{MATRIX}/{U_PARSE}/remove", os.O_RDONLY),
        (f"{TYPE}/create", os.O_RDONLY),
        (f"{MATRIX}/{U_PARSE}/matrix", os.O_WRONLY),
        (f"{MATRIX}/{U_PARSE}/guest_matrix", os.O_WRONLY | os.O_TRUNC),
        (f"{BUS}/bindings", os.O_WRONLY),
        (f"{BUS}/ap_max_adapter_id", os.O_RDWR),
        (f"{TYPE}/available_instances", os.O_WRONLY),
        ("sys/devices/ap/card05/05.0000/ap_functions", os.O_WRONLY),
    ],
)
def test_wrong_direction_open_is_eacces(live, rel, flags):
    before = live.writes("h63")
    with pytest.raises(OSError) as info:
        os.close(os.open(live.host_dir("h63") / rel, flags))
    assert info.value.errno == errno.EACCES
    assert live.writes("h63") == before  # refused at open: no store reached the kernel


def test_new_file_in_sysfs_is_refused(live):
    with pytest.raises(OSError) as info:
        os.close(os.open(live.host_dir("h63") / BUS / "no_such_attr", os.O_WRONLY | os.O_CREAT, 0o644))
    assert info.value.errno == errno.EACCES


# ---------------------------------------------------------------------------------------- assign_* parsing


@pytest.mark.parametrize(
    "attr, text, expect, field, ids",
    [
        ("assign_adapter", "6", 0, "adapters", [6]),
        ("assign_adapter", "6\n", 0, "adapters", [6]),
        ("assign_adapter", "0x6", 0, "adapters", [6]),
        ("assign_adapter", "0X0a", 0, "adapters", [10]),
        ("assign_adapter", "010", 0, "adapters", [8]),  # leading 0 = octal
        ("assign_adapter", "+9", 0, "adapters", [9]),
        ("assign_adapter", "08", errno.EINVAL, "adapters", []),  # bad octal digit
        ("assign_adapter", "09\n", errno.EINVAL, "adapters", []),
        ("assign_adapter", "6\n\n", errno.EINVAL, "adapters", []),
        ("assign_adapter", " 6", errno.EINVAL, "adapters", []),
        ("assign_adapter", "-6", errno.EINVAL, "adapters", []),
        ("assign_adapter", "0x", errno.EINVAL, "adapters", []),
        ("assign_adapter", "six", errno.EINVAL, "adapters", []),
        ("assign_adapter", "6,7", errno.EINVAL, "adapters", []),
        ("assign_adapter", "99999999999999999999999", errno.ERANGE, "adapters", []),
        ("assign_domain", "0xc", 0, "domains", [12]),
        ("assign_domain", "012", 0, "domains", [10]),
        ("assign_domain", "8", 0, "domains", [8]),
        ("assign_domain", "08", errno.EINVAL, "domains", []),
        ("assign_control_domain", "3", 0, "control_domains", [3]),
        ("assign_control_domain", "0x0f", 0, "control_domains", [15]),
        ("assign_control_domain", "07", 0, "control_domains", [7]),
        ("assign_control_domain", "09", errno.EINVAL, "control_domains", []),
    ],
)
def test_assign_parses_base0(live, attr, text, expect, field, ids):
    reset(live, "h63", U_PARSE)
    assert sysfs_write(mdev(live, "h63", U_PARSE) / attr, text) == expect
    assert mdev_state(live, "h63", U_PARSE)[field] == ids


@pytest.mark.parametrize(
    "attr, text, expect, left",
    [
        ("unassign_adapter", "010", 0, [10]),  # octal 010 = 8
        ("unassign_adapter", "0xa\n", 0, [8]),
        ("unassign_adapter", "10", 0, [8]),
        ("unassign_adapter", "08", errno.EINVAL, [8, 10]),
        ("unassign_adapter", "0x", errno.EINVAL, [8, 10]),
        ("unassign_adapter", "8 ", errno.EINVAL, [8, 10]),
    ],
)
def test_unassign_parses_base0(live, attr, text, expect, left):
    reset(live, "h63", U_PARSE)
    m = mdev(live, "h63", U_PARSE)
    assert sysfs_write(m / "assign_adapter", "8") == 0
    assert sysfs_write(m / "assign_adapter", "10") == 0
    assert sysfs_write(m / attr, text) == expect
    assert mdev_state(live, "h63", U_PARSE)["adapters"] == left


@pytest.mark.parametrize(
    "attr, text",
    [
        ("assign_adapter", "64"),
        ("assign_adapter", "0x40"),
        ("assign_adapter", "255"),
        ("unassign_adapter", "64"),
        ("assign_domain", "16"),
        ("unassign_domain", "0x10"),
        ("assign_control_domain", "16"),
        ("unassign_control_domain", "200"),
    ],
)
def test_ids_above_host_maximum_are_enodev(live, attr, text):
    reset(live, "h63", U_PARSE)
    assert sysfs_write(mdev(live, "h63", U_PARSE) / attr, text) == errno.ENODEV
    assert mdev_state(live, "h63", U_PARSE)["adapters"] == []


@pytest.mark.parametrize("attr, text", [("assign_adapter", "63"), ("assign_domain", "15"), ("assign_control_domain", "15")])
def test_ids_at_host_maximum_are_accepted(live, attr, text):
    reset(live, "h63", U_PARSE)
    assert sysfs_write(mdev(live, "h63", U_PARSE) / attr, text) == 0


@pytest.mark.parametrize(
    "first, second",
    [
        (("assign_domain", "2"), ("assign_adapter", "5")),  # 05.0002 is host-owned
        (("assign_adapter", "0"), ("assign_domain", "7")),  # 00.0007 is host-owned
    ],
)
def test_assign_of_host_owned_apqn_is_eaddrnotavail(live, first, second):
    reset(live, "h63", U_PARSE)
    assert sysfs_write(mdev(live, "h63", U_PARSE) / first[0], first[1]) == 0
    before = mdev_state(live, "h63", U_PARSE)
    assert sysfs_write(mdev(live, "h63", U_PARSE) / second[0], second[1]) == errno.EADDRNOTAVAIL
    assert mdev_state(live, "h63", U_PARSE) == before


def test_assign_of_apqn_held_by_another_mdev_is_eaddrinuse(live):
    reset(live, "h63", U_PARSE)
    m = mdev(live, "h63", U_PARSE)
    assert sysfs_write(m / "assign_adapter", "6") == 0
    assert sysfs_write(m / "assign_domain", "9") == errno.EADDRINUSE
    assert mdev_state(live, "h63", U_PARSE)["domains"] == []
    assert any("06.0009" in line and U_OWNER in line for line in live.log("h63"))
    # control domains may be shared freely
    assert sysfs_write(m / "assign_control_domain", "9") == 0


def test_repeated_assign_and_unassign_of_absent_id_succeed_silently(live):
    reset(live, "h63", U_PARSE)
    m = mdev(live, "h63", U_PARSE)
    for _unused in range(2):
        assert sysfs_write(m / "assign_adapter", "12") == 0
    assert mdev_state(live, "h63", U_PARSE)["adapters"] == [12]
    for attr in ("unassign_domain", "unassign_control_domain"):
        assert sysfs_write(m / attr, "4") == 0
    assert sysfs_write(m / "unassign_adapter", "12") == 0
    assert sysfs_write(m / "unassign_adapter", "12") == 0
    assert mdev_state(live, "h63", U_PARSE)["adapters"] == []


def test_writes_accept_chzcrypt_style_open_and_truncate(live):
    reset(live, "h63", U_PARSE)
    path = mdev(live, "h63", U_PARSE) / "assign_adapter"
    assert sysfs_write(path, "13", os.O_WRONLY | os.O_CREAT | os.O_TRUNC) == 0
    os.truncate(path, 0)
    with open(path, "w") as fh:  # Python buffered I/O: the store runs at close
        fh.write("14\n")
    assert mdev_state(live, "h63", U_PARSE)["adapters"] == [13, 14]
    with pytest.raises(OSError) as info, open(path, "w") as fh:
        fh.write("08")
    assert info.value.errno == errno.EINVAL


def test_write_to_attribute_of_removed_mdev_is_enodev(live):
    create = live.host_dir("h63") / TYPE / "create"
    uuid = "40000000-0000-4000-8000-0000000000bb"
    assert sysfs_write(create, uuid) == 0
    fd = os.open(mdev(live, "h63", uuid) / "assign_adapter", os.O_WRONLY)
    try:
        assert sysfs_write(mdev(live, "h63", uuid) / "remove", "1") == 0
        with pytest.raises(OSError) as info:
            os.write(fd, b"6")
        assert info.value.errno == errno.ENODEV
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------- ap_config


def test_ap_config_reads_three_masks(live):
    text = sysfs_read(mdev(live, "h63", U_GUEST) / "ap_config")
    assert text == f"{mask(6, 7)},{mask(12)},{mask(3, 12)}\n"


@pytest.mark.parametrize(
    "value, expect, result",
    [
        (f"{mask(6)},{mask(10, 11)},{mask(1)}\n", 0, ([6], [10, 11], [1])),
        (f"{mask(6)},{mask(10, 11)},{mask(1)}", 0, ([6], [10, 11], [1])),  # no newline
        ("0x02,0x0030,0x4\n", 0, ([6], [10, 11], [1])),  # short masks are right-padded
        ("0x02,0x0030", errno.EINVAL, None),  # two fields
        ("0x02,0x0030\n", 0, ([6], [10, 11], [])),  # strsep yields an empty third field
        ("0x02;0x0030;0x4\n", errno.EINVAL, None),
        ("0x0g,0x0030,0x4\n", errno.EINVAL, None),
        ("0x" + "0" * 65 + ",0x0030,0x4\n", errno.EINVAL, None),  # 65 digits
        (f"{mask(5)},{mask(2)},{ZERO}\n", errno.EADDRNOTAVAIL, None),  # 05.0002 host-owned
        (f"{mask(6)},{mask(9)},{ZERO}\n", errno.EADDRINUSE, None),  # 06.0009 held by U_OWNER
        (f"{mask(64)},{mask(10)},{ZERO}\n", errno.ENODEV, None),
        (f"{mask(6)},{mask(10)},{mask(16)}\n", errno.ENODEV, None),
    ],
)
def test_ap_config_write_is_atomic(live, value, expect, result):
    path = mdev(live, "h63", U_CFG) / "ap_config"
    assert sysfs_write(path, f"{mask(8)},{mask(13)},{mask(13)}\n") == 0
    assert sysfs_write(path, value) == expect
    state = mdev_state(live, "h63", U_CFG)
    got = (state["adapters"], state["domains"], state["control_domains"])
    assert got == (result if result else ([8], [13], [13]))


def test_ap_config_write_of_value_read_changes_nothing(live):
    path = mdev(live, "h63", U_GUEST) / "ap_config"
    before = live.state("h63")
    assert sysfs_write(path, sysfs_read(path)) == 0
    assert live.state("h63") == before


# ---------------------------------------------------------------------------------------- matrix formats


@pytest.mark.parametrize(
    "ops, matrix",
    [
        ([("assign_adapter", "6"), ("assign_domain", "10"), ("assign_domain", "0xb")], "06.000a\n06.000b\n"),
        ([("assign_adapter", "0x2a"), ("assign_adapter", "6")], "06.\n2a.\n"),
        ([("assign_domain", "0xb"), ("assign_domain", "8")], ".0008\n.000b\n"),
        ([], ""),
    ],
)
def test_matrix_formats(live, ops, matrix):
    reset(live, "h63", U_PARSE)
    for attr, text in ops:
        assert sysfs_write(mdev(live, "h63", U_PARSE) / attr, text) == 0
    assert sysfs_read(mdev(live, "h63", U_PARSE) / "matrix") == matrix


def test_control_domains_format(live):
    assert sysfs_read(mdev(live, "h63", U_GUEST) / "control_domains") == "0003\n000c\n"


def test_guest_matrix_drops_adapter_with_a_missing_queue(live):
    # 07.000c does not exist (card 7 has domains 0-11): the whole adapter 7 is filtered out
    assert sysfs_read(mdev(live, "h63", U_GUEST) / "matrix") == "06.000c\n07.000c\n"
    assert sysfs_read(mdev(live, "h63", U_GUEST) / "guest_matrix") == "06.000c\n"


def test_guest_matrix_follows_rebinding(live):
    root = live.host_dir("mask")
    m = mdev(live, "mask", U_MASK)
    assert sysfs_read(m / "guest_matrix") == "02.0003\n"
    # 02.0002 belongs to cex4queue: it cannot be assigned until it is reserved for vfio_ap
    assert sysfs_write(m / "assign_domain", "2") == errno.EADDRNOTAVAIL
    assert sysfs_write(root / BUS / "aqmask", "-2") == 0
    try:
        assert sysfs_write(m / "assign_domain", "2") == 0
        assert sysfs_read(m / "guest_matrix") == "02.0002\n02.0003\n"
        assert sysfs_write(m / "unassign_domain", "2") == 0
    finally:
        assert sysfs_write(root / BUS / "aqmask", "+2") == 0
    assert sysfs_read(m / "guest_matrix") == "02.0003\n"


def test_reads_are_fresh_on_every_read(live):
    reset(live, "h63", U_PARSE)
    path = mdev(live, "h63", U_PARSE) / "matrix"
    assert sysfs_write(mdev(live, "h63", U_PARSE) / "assign_adapter", "11") == 0
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.read(fd, 4096) == b"0b.\n"
        assert sysfs_write(mdev(live, "h63", U_PARSE) / "assign_domain", "10") == 0
        assert os.pread(fd, 4096, 0) == b"0b.000a\n"  # a read from offset 0 shows the new state
        assert os.pread(fd, 4096, 3) == b"000a\n"
    finally:
        os.close(fd)
    with open(path) as fh:  # and a fresh open reads exactly the text, not a 4096-byte page
        assert fh.read() == "0b.000a\n"


# ---------------------------------------------------------------------------------------- create / remove


def test_create_makes_directory_and_links(live):
    root = live.host_dir("h63")
    before = int(sysfs_read(root / TYPE / "available_instances"))
    assert sysfs_write(root / TYPE / "create", U_NEW.upper() + "\n") == 0
    assert (root / MATRIX / U_NEW).is_dir()
    assert os.readlink(root / MATRIX / U_NEW / "mdev_type") == "../mdev_supported_types/vfio_ap-passthrough"
    assert os.path.realpath(root / "sys/bus/mdev/devices" / U_NEW) == str(root / MATRIX / U_NEW)
    assert os.path.realpath(root / TYPE / "devices" / U_NEW) == str(root / MATRIX / U_NEW)
    assert int(sysfs_read(root / TYPE / "available_instances")) == before - 1
    assert sysfs_read(root / MATRIX / U_NEW / "matrix") == ""
    assert sysfs_write(root / TYPE / "create", U_NEW) == errno.EEXIST
    assert sysfs_write(root / MATRIX / U_NEW / "remove", "0") == 0  # 0 = nothing to do
    assert (root / MATRIX / U_NEW).is_dir()
    assert sysfs_write(root / MATRIX / U_NEW / "remove", "1") == 0
    assert not (root / MATRIX / U_NEW).exists()
    assert not os.path.lexists(root / "sys/bus/mdev/devices" / U_NEW)
    assert int(sysfs_read(root / TYPE / "available_instances")) == before


@pytest.mark.parametrize(
    "text",
    [
        "40000000-0000-4000-8000-0000000000a",  # 35 characters
        "40000000-0000-4000-8000-0000000000aaa",  # 37 characters, no newline
        "40000000-0000-4000-8000-0000000000aa\n\n",
        "40000000_0000-4000-8000-0000000000aa",
        "4000000g-0000-4000-8000-0000000000aa",
        "not a uuid",
    ],
)
def test_create_refuses_malformed_uuid(live, text):
    before = sorted(live.state("h63")["mdevs"])
    assert sysfs_write(live.host_dir("h63") / TYPE / "create", text) == errno.EINVAL
    assert sorted(live.state("h63")["mdevs"]) == before


def test_remove_while_guest_uses_mdev_is_ebusy(live):
    root = live.host_dir("h63")
    uuid = "40000000-0000-4000-8000-0000000000cc"
    assert sysfs_write(root / TYPE / "create", uuid) == 0
    live.control("h63", f"attach {uuid} guest-x")
    try:
        assert sysfs_write(root / MATRIX / uuid / "remove", "1") == errno.EBUSY
        assert uuid in live.state("h63")["mdevs"]
    finally:
        live.control("h63", f"detach {uuid}")
    assert sysfs_write(root / MATRIX / uuid / "remove", "1") == 0
    assert uuid not in live.state("h63")["mdevs"]


# ---------------------------------------------------------------------------------------- apmask / aqmask


@pytest.mark.parametrize(
    "write, expect, ids",
    [
        ("+4", 0, [0, 1, 2, 4, 5]),  # relative, from {0, 1, 2, 5}
        ("-0-1,+4", 0, [2, 4, 5]),
        ("+0x0a-0xc\n", 0, [0, 1, 2, 5, 10, 11, 12]),
        ("-2,-5,+010", 0, [0, 1, 8]),  # octal 010 = 8
        ("+0-255,-6-255,-3-4", 0, [0, 1, 2, 5]),
        ("0xe4", 0, [0, 1, 2, 5]),  # absolute, right-padded
        ("0x8\n", 0, [0]),
        ("x8", 0, [0]),
        ("\n", 0, []),  # clears the whole mask
        ("+256", errno.EINVAL, None),
        ("+5-3", errno.EINVAL, None),
        ("+08", errno.EINVAL, None),
        ("+1;+2", errno.EINVAL, None),
        ("+", errno.EINVAL, None),
        ("0x" + "f" * 65, errno.EINVAL, None),
        ("0xzz", errno.EINVAL, None),
    ],
)
def test_aqmask_absolute_and_relative_syntax(live, write, expect, ids):
    # host 'mask': aqmask starts as {0, 1, 2, 4..255}; give it a small known value first
    path = live.host_dir("mask") / BUS / "aqmask"
    assert sysfs_write(path, mask(0, 1, 2, 5)) == 0
    assert sysfs_write(path, write) == expect
    assert live.state("mask")["aqmask"] == (ids if ids is not None else [0, 1, 2, 5])
    assert sysfs_read(path) == mask(*(ids if ids is not None else [0, 1, 2, 5])) + "\n"
    assert sysfs_write(path, "+0-255,-3") == 0


@pytest.mark.parametrize("write", ["+3", "+0-255", "0x" + "f" * 64, "+2-4,-4"])
def test_aqmask_refuses_to_hand_back_apqn_held_by_mdev(live, write):
    path = live.host_dir("mask") / BUS / "aqmask"
    live.control("mask", "clear-log")
    before = live.state("mask")
    assert sysfs_write(path, write) == errno.EBUSY
    assert live.state("mask") == before
    assert live.log("mask") == ["vfio_ap: Can not reserve queue 02.0003 for host driver: in use by mdev"]


def test_apmask_refuses_to_hand_back_adapter_held_by_mdev(live):
    root = live.host_dir("mask")
    m = mdev(live, "mask", U_MASK)
    assert sysfs_write(root / BUS / "apmask", "-2") == 0  # adapter 2 wholly to vfio_ap
    try:
        assert sysfs_write(m / "assign_domain", "1") == 0  # 02.0001 is now free for an mdev
        assert sysfs_write(root / BUS / "apmask", "+2") == errno.EBUSY
        assert 2 not in live.state("mask")["apmask"]
        assert sysfs_write(m / "unassign_domain", "1") == 0
    finally:
        assert sysfs_write(root / BUS / "apmask", "+2") == 0
    assert live.state("mask")["apmask"] == list(range(256))


def test_mask_change_rebinds_queues(live):
    root = live.host_dir("mask")
    q = root / "sys/devices/ap/card01/01.0001"
    assert os.path.basename(os.readlink(q / "driver")) == "cex4queue"
    assert (q / "online").exists() and not (q / "status").exists()
    assert "01.0001" in os.listdir(root / BUS / "drivers/cex4queue")
    assert sysfs_write(root / BUS / "aqmask", "-1") == 0
    try:
        assert os.path.basename(os.readlink(q / "driver")) == "vfio_ap"
        assert (q / "status").exists() and not (q / "online").exists() and not (q / "mkvps").exists()
        assert sysfs_read(q / "status") == "unassigned\n"
        assert "01.0001" in os.listdir(root / BUS / "drivers/vfio_ap")
        assert "01.0001" not in os.listdir(root / BUS / "drivers/cex4queue")
        assert sysfs_read(root / BUS / "bindings") == "8/8 (complete)\n"
    finally:
        assert sysfs_write(root / BUS / "aqmask", "+1") == 0
    assert os.path.basename(os.readlink(q / "driver")) == "cex4queue"
    assert sysfs_read(q / "online") == "1\n"


def test_bindings_counts_unbound_queues_without_vfio_ap(tmp_path):
    from apsim.fleet import build_fleet
    from apsim.render import render_fleet

    data = {"hosts": {"nov": {"vfio_ap_loaded": False, "aqmask": "0", "cards": [{"id": 1, "type": "CEX8C", "domains": "0-3"}]}}}
    render_fleet(build_fleet(data), tmp_path)
    assert (tmp_path / "nov" / BUS / "bindings").read_text() == "1/4\n"
    assert not (tmp_path / "nov/sys/devices/ap/card01/01.0002/driver").exists()


# ---------------------------------------------------------------------------------------- status


def test_queue_status_unassigned_assigned_in_use(live):
    devices = live.host_dir("h63") / BUS / "devices"
    assert sysfs_read(devices / "06.000a" / "status") == "unassigned\n"
    assert sysfs_read(devices / "06.000c" / "status") == "assigned\n"
    live.control("h63", f"attach {U_GUEST} g1")
    try:
        assert sysfs_read(devices / "06.000c" / "status") == "in use\n"
        assert sysfs_read(devices / "06.0009" / "status") == "assigned\n"
    finally:
        live.control("h63", f"detach {U_GUEST}")
    assert sysfs_read(devices / "06.000c" / "status") == "assigned\n"


# ---------------------------------------------------------------------------------------- features / migratable


@pytest.mark.parametrize(
    "host, features, has_file",
    [
        ("h63", "guest_matrix hotplug ap_config migratable\n", False),
        ("v1", "guest_matrix hotplug ap_config migratable\n", True),
        ("old", "guest_matrix hotplug ap_config\n", False),
    ],
)
def test_features_per_migration_setting(live, host, features, has_file):
    root = live.host_dir(host)
    assert sysfs_read(root / MATRIX / "features") == features
    uuids = list(live.state(host)["mdevs"])
    for uuid in uuids:
        assert (root / MATRIX / uuid / "migratable").exists() == has_file


@pytest.mark.parametrize(
    "text, expect, value",
    [
        ("1", 0, 1),
        ("1\n", 0, 1),
        ("0\n", 0, 0),
        ("2", errno.EINVAL, 0),
        ("-1", errno.EINVAL, 0),
        ("0x1", errno.EINVAL, 0),  # decimal only
        ("yes", errno.EINVAL, 0),
    ],
)
def test_migratable_write(live, text, expect, value):
    path = mdev(live, "v1", U_V1) / "migratable"
    assert sysfs_write(path, "0") == 0
    assert sysfs_write(path, text) == expect
    assert sysfs_read(path) == f"{value}\n"
    assert mdev_state(live, "v1", U_V1)["migratable"] == value


def test_migratable_cannot_be_cleared_during_migration(live):
    path = mdev(live, "v1", U_V1) / "migratable"
    assert sysfs_write(path, "1") == 0
    live.control("v1", f"migrating {U_V1} 1")
    try:
        assert sysfs_write(path, "0") == errno.EBUSY
        assert sysfs_read(path) == "1\n"
        assert sysfs_write(path, "1") == 0  # writing the current value is a no-op
    finally:
        live.control("v1", f"migrating {U_V1} 0")
    assert sysfs_write(path, "0") == 0
    assert sysfs_read(path) == "0\n"


# ---------------------------------------------------------------------------------------- control channel


def test_control_channel_counts_writes_and_refuses_bad_commands(live):
    live.control("old", "reset-writes")
    assert live.writes("old") == 0
    assert sysfs_write(live.host_dir("old") / BUS / "aqmask", "+999") == errno.EINVAL
    assert sysfs_write(live.host_dir("old") / BUS / "aqmask", "+0-255") == 0
    assert live.writes("old") == 2
    for command, code in [("attach", errno.ENODEV), ("frobnicate", errno.EINVAL), ("card 9 chkstop 1", errno.ENODEV),
                          ("card 1 chkstop maybe", errno.EINVAL)]:  # fmt: skip
        with pytest.raises(OSError) as info:
            live.control("old", command)
        assert info.value.errno == code
    live.control("old", "card 1 chkstop 1")
    try:
        assert sysfs_read(live.host_dir("old") / "sys/devices/ap/card01/chkstop") == "1\n"
        assert sysfs_read(live.host_dir("old") / "sys/devices/ap/card01/online") == "0\n"
    finally:
        live.control("old", "card 1 chkstop 0")


def test_eio_attribute_fails_on_read(live_eio):
    path = live_eio.host_dir("e") / "sys/devices/ap/card01/01.0002/ap_functions"
    assert read_errno(path) == errno.EIO
    assert read_errno(live_eio.host_dir("e") / "sys/devices/ap/card01/01.0001/ap_functions") == 0


# (domain, what the queue's ap_functions gives): a live TAPQ; EIO above BUSY (5) even with an async
# error pending; response code 1 (queue not available) stores no GR2, which the kernel zeroed first
TAPQ_READS = [
    (1, "0x72800000\n"),  # normal
    (2, errno.EIO),  # eio: true = response code 6
    (3, "0x00000000\n"),  # 1 queue not available
    (4, "0x72800000\n"),  # 2 reset in progress
    (5, "0x72800000\n"),  # 3 deconfigured
    (6, "0x72800000\n"),  # 4 check-stopped
    (7, "0x72800000\n"),  # 5 busy
    (8, errno.EIO),  # 7
    (9, errno.EIO),  # 7 with an asynchronous error pending
    (10, "0x72800000\n"),  # derived: the card is fine, the queue is check-stopped (4)
]


@pytest.mark.parametrize("domain, expected", TAPQ_READS, ids=[f"domain{d}" for d, _e in TAPQ_READS])
def test_queue_ap_functions_follows_the_tapq_response_code(live_eio, domain, expected):
    path = live_eio.host_dir("e") / f"sys/devices/ap/card01/01.{domain:04x}/ap_functions"
    if isinstance(expected, int):
        assert read_errno(path) == expected
    else:
        assert sysfs_read(path) == expected


live_eio = live_fleet_fixture(
    {
        "hosts": {
            "e": {
                "cards": [
                    {
                        "id": 1,
                        "type": "CEX8C",
                        "domains": "1-10",
                        "queues": {
                            2: {"eio": True},
                            3: {"tapq_rc": 1},
                            4: {"tapq_rc": 2},
                            5: {"tapq_rc": 3},
                            6: {"tapq_rc": 4},
                            7: {"tapq_rc": 5},
                            8: {"tapq_rc": 7},
                            9: {"tapq_rc": 7, "tapq_async": True},
                            10: {"chkstop": True},
                        },
                    }
                ]
            }
        }
    }
)


# ---------------------------------------------------------------------------------------- etc/ and run/


def test_etc_and_run_behave_as_ordinary_directories(live):
    import fcntl
    import tempfile

    root = live.host_dir("h63")
    qemu = root / "etc/libvirt/qemu"
    assert qemu.is_dir() and (root / "etc/mdevctl.d/matrix").is_dir() and (root / "run/lock").is_dir()
    # ansible's write pattern: temp file in the directory, chmod, utime, atomic rename
    fd, tmp = tempfile.mkstemp(dir=qemu, prefix=".ansible_tmp")
    os.write(fd, b"<domain/>\n")
    os.fsync(fd)
    os.close(fd)
    os.chmod(tmp, 0o600)
    os.utime(tmp, ns=(1_000_000_000, 2_000_000_000))
    os.rename(tmp, qemu / "new.xml")
    st = os.stat(qemu / "new.xml")
    assert (qemu / "new.xml").read_text() == "<domain/>\n"
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_mtime_ns == 2_000_000_000
    # lock files: flock and fcntl locks work
    with open(root / "run/lock/s390apconfig.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(f"{os.getpid()}\n")
    os.mkdir(root / "run/x")
    os.symlink("../lock", root / "run/x/l")
    assert os.readlink(root / "run/x/l") == "../lock"
    with open(qemu / "new.xml", "a") as fh:
        fh.write("more\n")
    os.truncate(qemu / "new.xml", 4)
    assert (qemu / "new.xml").read_text() == "<dom"
    for path in (root / "run/x/l", qemu / "new.xml", root / "run/lock/s390apconfig.lock"):
        os.unlink(path)
    os.rmdir(root / "run/x")
    with pytest.raises(OSError) as info:
        os.rename(root / "etc/libvirt", root / "sys/libvirt")
    assert info.value.errno == errno.EXDEV
