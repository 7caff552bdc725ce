"""The real mdevctl (Debian package) and other tools run through ns-exec against a mounted host."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from apsim.live import subprocess_env
from apsim.testing import live_fleet_fixture
from simulator.simfleets import SYSFS_FLEET, U_GUEST, U_OWNER

pytestmark = pytest.mark.live

live = live_fleet_fixture(SYSFS_FLEET)

UUID = "60000000-0000-4000-8000-000000000001"
MATRIX = "sys/devices/vfio_ap/matrix"


@pytest.fixture(scope="module")
def mdevctl(live):
    from conftest import require_mdevctl

    require_mdevctl()

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = live.ns_exec("h63", ["mdevctl", *args], capture_output=True, text=True)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_ns_exec_shows_the_simulated_host_and_passes_the_exit_code(live):
    result = live.ns_exec("h63", ["sh", "-c", "cat /sys/bus/ap/ap_max_adapter_id; ls /etc/mdevctl.d; exit 7"],
                          capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 7
    assert result.stdout.splitlines()[0] == "63"
    assert "scripts.d" in result.stdout.split()


def test_ns_exec_command_line(live, tmp_path):
    cmd = [sys.executable, "-m", "apsim", "ns-exec", str(live.host_dir("mask")), "--", "sh", "-c",
           "cat /sys/bus/ap/aqmask; exit 3"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), check=False)
    assert result.returncode == 3
    assert result.stdout.startswith("0xe")
    bad = subprocess.run([sys.executable, "-m", "apsim", "ns-exec", str(tmp_path), "--", "true"],
                         capture_output=True, text=True, env=subprocess_env(), check=False)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "is not a simulated host" in bad.stderr


def test_mdevctl_types_and_list(mdevctl):
    types = mdevctl("types", "--dumpjson")
    data = json.loads(types.stdout)
    (entry,) = data
    assert list(entry) == ["matrix"]
    (ptype,) = entry["matrix"]
    assert ptype["vfio_ap-passthrough"]["device_api"] == "vfio-ap"
    active = mdevctl("list").stdout
    assert f"{U_OWNER} matrix vfio_ap-passthrough manual" in active
    assert U_GUEST in active


def test_mdevctl_define_start_stop_undefine(live, mdevctl):
    definition = live.host_dir("h63") / "etc/mdevctl.d/matrix" / UUID
    mdevctl("define", "-u", UUID, "-p", "matrix", "-t", "vfio_ap-passthrough", "--auto")
    for attr, value in (("assign_adapter", "7"), ("assign_domain", "0x0a"), ("assign_control_domain", "10")):
        mdevctl("modify", "-u", UUID, f"--addattr={attr}", f"--value={value}")
    doc = json.loads(definition.read_text())
    assert doc["start"] == "auto" and doc["mdev_type"] == "vfio_ap-passthrough"
    assert doc["attrs"] == [{"assign_adapter": "7"}, {"assign_domain": "0x0a"}, {"assign_control_domain": "10"}]
    assert f"{UUID} matrix vfio_ap-passthrough auto" in mdevctl("list", "-d").stdout
    assert UUID not in live.state("h63")["mdevs"]

    mdevctl("start", "-u", UUID)
    state = live.state("h63")["mdevs"][UUID]
    assert (state["adapters"], state["domains"], state["control_domains"]) == ([7], [10], [10])
    assert (live.host_dir("h63") / MATRIX / UUID / "matrix").read_text() == "07.000a\n"
    assert f"{UUID} matrix vfio_ap-passthrough auto (defined)" in mdevctl("list").stdout

    mdevctl("stop", "-u", UUID)
    assert UUID not in live.state("h63")["mdevs"]
    assert not (live.host_dir("h63") / MATRIX / UUID).exists()

    mdevctl("undefine", "-u", UUID)
    assert not definition.exists()
    assert UUID not in mdevctl("list", "-d").stdout


def test_mdevctl_start_refused_by_the_kernel_leaves_no_mdev(live, mdevctl):
    uuid = "60000000-0000-4000-8000-000000000002"
    mdevctl("define", "-u", uuid, "-p", "matrix", "-t", "vfio_ap-passthrough")
    try:
        mdevctl("modify", "-u", uuid, "--addattr=assign_adapter", "--value=6")
        mdevctl("modify", "-u", uuid, "--addattr=assign_domain", "--value=9")  # 06.0009 is U_OWNER's
        result = mdevctl("start", "-u", uuid, check=False)
        assert result.returncode != 0
        assert "Address already in use" in result.stderr
        assert uuid not in live.state("h63")["mdevs"]  # mdevctl removed the half-configured mdev
    finally:
        mdevctl("undefine", "-u", uuid)
