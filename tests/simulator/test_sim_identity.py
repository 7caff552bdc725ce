"""Host identity in the simulator: /etc/machine-id, /proc/sysinfo and the CPC name, per fleet host."""

from __future__ import annotations

import os

import pytest

from apsim.fleet import build_fleet
from apsim.render import render_fleet
from apsim.testing import live_fleet_fixture, sysfs_read

MID = "0123456789abcdef0123456789abcdef"
FLEET = {
    "hosts": {
        "plain": {},
        "other": {},
        "lpar1": {"machine_id": MID, "cpc": {"type": "9175", "sequence": "8A8B8", "name": "CPCZ"}, "lpar": {"name": "LP01", "number": 1}},
        "lpar1-alias": {"same_as": "lpar1"},
        "lpar2": {"cpc": {"type": "9175", "sequence": "8A8B8", "name": "CPCZ"}, "lpar": {"name": "LP02", "number": 0x2F}},
    }
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    dest = tmp_path_factory.mktemp("identity")
    render_fleet(build_fleet(FLEET), dest)
    return dest


def files(root, host):
    return {rel: (root / host / rel).read_text() for rel in ("etc/machine-id", "proc/sysinfo", "sys/firmware/ocf/cpc_name")}


def field(sysinfo: str, label: str) -> str:
    (line,) = [x for x in sysinfo.splitlines() if x.startswith(label + ":")]
    return line[22:]


def test_explicit_identity_in_the_kernel_layout(rendered):
    got = files(rendered, "lpar1")
    assert got["etc/machine-id"] == MID + "\n"
    assert got["sys/firmware/ocf/cpc_name"] == "CPCZ\n"
    info = got["proc/sysinfo"]
    assert field(info, "Manufacturer") == "IBM".ljust(16)
    assert field(info, "Type") == "9175"
    assert field(info, "Model").split() == ["701", "ME1"]
    assert field(info, "Sequence Code") == "00000000000" + "8A8B8"
    assert field(info, "LPAR Number") == "1"
    assert field(info, "LPAR Name") == "LP01    "
    assert all(len(x.split(":", 1)[0]) + 1 <= 22 for x in info.splitlines() if x)


def test_same_as_is_the_same_lpar(rendered):
    assert files(rendered, "lpar1-alias") == files(rendered, "lpar1")


def test_second_lpar_of_a_cpc_shares_cpc_fields_only(rendered):
    one, two = files(rendered, "lpar1"), files(rendered, "lpar2")
    for label in ("Type", "Sequence Code"):
        assert field(one["proc/sysinfo"], label) == field(two["proc/sysinfo"], label)
    assert field(two["proc/sysinfo"], "LPAR Number") == "47"
    assert one["etc/machine-id"] != two["etc/machine-id"]


def test_defaults_differ_per_host_and_are_stable(rendered, tmp_path):
    a, b = files(rendered, "plain"), files(rendered, "other")
    assert all(a[k] != b[k] for k in a)
    assert field(a["proc/sysinfo"], "Type") == "3931"
    assert field(a["proc/sysinfo"], "LPAR Name").strip() == "PLAIN"
    render_fleet(build_fleet(FLEET), tmp_path)
    assert files(tmp_path, "plain") == a


live = live_fleet_fixture(FLEET)


@pytest.mark.live
def test_live_mount_serves_identity_files(live, rendered):
    root = live.host_dir("lpar1")
    assert sorted(os.listdir(root)) == ["etc", "proc", "run", "sys"]
    assert sysfs_read(root / "proc/sysinfo") == (rendered / "lpar1/proc/sysinfo").read_text()
    assert sysfs_read(root / "etc/machine-id") == MID + "\n"
    assert sysfs_read(root / "sys/firmware/ocf/cpc_name") == "CPCZ\n"


def test_same_as_names_the_host_that_describes_the_lpar():
    from apsim.fleet import FleetError

    with pytest.raises(FleetError, match=r"host c: same_as: host b itself has same_as"):
        build_fleet({"hosts": {"a": {}, "b": {"same_as": "a"}, "c": {"same_as": "b"}}}, "f.yml")
