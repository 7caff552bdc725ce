"""Sysfs writes under a sysroot: each kernel refusal surfaces as one message in AP terms (live simulator)."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import (
    CREATE,
    SysfsWriteError,
    require_uuid,
    errno_meaning,
    mdev_attr,
    read_attr,
    write_attr,
)
from apsim.testing import live_fleet_fixture

U_HELD = "80000000-0000-4000-8000-000000000001"
U_EMPTY = "80000000-0000-4000-8000-000000000002"
U_GUEST = "80000000-0000-4000-8000-000000000003"
U_LOW = "80000000-0000-4000-8000-000000000004"
FLEET = {
    "hosts": {
        "io": {
            "max_adapter_id": 63,
            "max_domain_id": 15,
            "apmask": "0-3",
            "aqmask": "0-7",
            "cards": [{"id": a, "type": "CEX8C", "domains": "0-15"} for a in (1, 4, 5)],
            "mdevs": [
                {"uuid": U_HELD, "adapters": [1, 4], "domains": [8]},
                {"uuid": U_EMPTY},
                {"uuid": U_GUEST, "adapters": [5], "domains": [9], "guest": "g1"},
                {"uuid": U_LOW, "domains": [2]},
            ],
        }
    }
}

live = live_fleet_fixture(FLEET)


@pytest.mark.parametrize(
    "text, ok",
    [
        ("6c1a0000-0000-4000-8000-00000000a101", True),
        ("6C1A0000-0000-4000-8000-00000000A101", False),  # callers lower-case first
        ("../../../etc/passwd", False),
        ("6c1a0000-0000-4000-8000-00000000a101/remove", False),
        ("6c1a0000000040008000 00000000a101", False),
        ("", False),
    ],
)
def test_require_uuid_accepts_only_a_canonical_uuid(text, ok):
    if ok:
        assert require_uuid(text) == text
    else:
        with pytest.raises(ValueError, match="not a canonical UUID"):
            require_uuid(text)


@pytest.mark.parametrize(
    "path, code, words",
    [
        ("sys/bus/ap/apmask", errno.EBUSY, "assigned to a vfio_ap mdev"),
        ("x/assign_domain", errno.EADDRNOTAVAIL, "reserved for the host drivers"),
        ("x/assign_adapter", errno.EADDRINUSE, "another mdev"),
        ("x/ap_config", errno.ENODEV, "above the host's maximum"),
        ("x/remove", errno.EBUSY, "running guest"),
        ("x/migratable", errno.EBUSY, "migration"),
        ("x/assign_domain", errno.EBUSY, "cannot hot-plug"),
        ("x/unassign_control_domain", errno.EBUSY, "cannot hot-unplug"),
        (CREATE, errno.EEXIST, "already exists"),
        ("x/anything", errno.EACCES, "file mode"),
    ],
)
def test_errno_meaning_is_in_ap_terms(path, code, words):
    assert words in errno_meaning(path, code)


pytestmark = pytest.mark.live


@pytest.mark.parametrize(
    "rel, value, code",
    [
        (mdev_attr(U_EMPTY, "assign_adapter"), "64", errno.ENODEV),
        (mdev_attr(U_LOW, "assign_adapter"), "1", errno.EADDRNOTAVAIL),
        (mdev_attr(U_EMPTY, "ap_config"), "0x08,0x008,0x0", errno.EADDRINUSE),
        (mdev_attr(U_EMPTY, "assign_domain"), "08", errno.EINVAL),
        ("sys/bus/ap/aqmask", "+8", errno.EBUSY),
        (mdev_attr(U_GUEST, "remove"), "1", errno.EBUSY),
        (CREATE, U_HELD, errno.EEXIST),
        (mdev_attr(U_HELD, "matrix"), "x", errno.EACCES),
    ],
)
def test_refused_writes_raise_with_file_value_errno_and_meaning_and_change_nothing(live, rel, value, code):
    root = str(live.host_dir("io"))
    before = live.state("io")
    with pytest.raises(SysfsWriteError) as info:
        write_attr(root, rel, value)
    err = info.value
    assert err.errno == code
    assert err.path.endswith(rel) and err.value == value
    message = str(err)
    assert errno.errorcode[code] in message and err.meaning in message and repr(value) in message
    assert live.state("io") == before


def test_a_successful_write_and_read_back(live):
    root = str(live.host_dir("io"))
    write_attr(root, mdev_attr(U_EMPTY, "assign_control_domain"), "12")
    assert read_attr(root, mdev_attr(U_EMPTY, "control_domains")) == "000c\n"
    write_attr(root, mdev_attr(U_EMPTY, "unassign_control_domain"), "12")
    assert read_attr(root, mdev_attr(U_EMPTY, "control_domains")) == ""
    assert read_attr(root, mdev_attr("80000000-0000-4000-8000-0000000000ff", "matrix")) is None
