"""The rendered tree matches the fleet description, in the kernel's formats (spot checks)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from apsim.fleet import build_fleet
from apsim.render import render_fleet

U_AD = "80000000-0000-4000-8000-000000000001"
U_A = "80000000-0000-4000-8000-000000000002"
U_D = "80000000-0000-4000-8000-000000000003"

FLEET = {
    "hosts": {
        "r1": {
            "max_domain_id": 84,
            "usage_domains": "0-15,0x47",
            "control_domains": "0-15,0x47,84",
            "apmask": "0-5",
            "aqmask": "0-3",
            "cards": [
                {"id": 5, "type": "CEX8C", "domains": "0-4,0x47", "serialnr": "93AADFK7", "queues": {4: {"eio": True}}},  # fmt: skip
                {"id": 0x0A, "type": "CEX7P", "domains": "0-4", "functions": 0x06800000},
                {"id": 1, "type": "CEX8A", "domains": "0-1"},
            ],
            "mdevs": [
                {"uuid": U_AD, "adapters": [5, 0x0A], "domains": [4, 0x47], "control_domains": [4, 0x47, 84], "guest": "web1"},  # fmt: skip
                {"uuid": U_A, "adapters": [0x0B]},
                {"uuid": U_D, "domains": [0x0C], "control_domains": [0x0C], "start": "auto"},
            ],
        }
    }
}


@pytest.fixture(scope="module")
def r1(tmp_path_factory):
    dest = tmp_path_factory.mktemp("render")
    render_fleet(build_fleet(FLEET), dest)
    return dest / "r1"


def mask(*ids):
    bits = 0
    for i in ids:
        bits |= 1 << (255 - i)
    return f"0x{bits:064x}\n"


@pytest.mark.parametrize(
    "rel, text",
    [
        ("sys/bus/ap/apmask", mask(0, 1, 2, 3, 4, 5)),
        ("sys/bus/ap/aqmask", mask(0, 1, 2, 3)),
        ("sys/bus/ap/ap_usage_domain_mask", mask(*range(16), 0x47)),
        ("sys/bus/ap/ap_control_domain_mask", mask(*range(16), 0x47, 84)),
        ("sys/bus/ap/ap_adapter_mask", mask(1, 5, 10)),
        ("sys/bus/ap/ap_max_domain_id", "84\n"),
        ("sys/bus/ap/ap_max_adapter_id", "255\n"),
        ("sys/bus/ap/bindings", "13/13 (complete)\n"),
        ("sys/devices/ap/card05/type", "CEX8C\n"),
        ("sys/devices/ap/card05/hwtype", "14\n"),
        ("sys/devices/ap/card05/ap_functions", "0x72800000\n"),
        ("sys/devices/ap/card0a/ap_functions", "0x06800000\n"),
        ("sys/devices/ap/card0a/hwtype", "13\n"),
        ("sys/devices/ap/card05/serialnr", "93AADFK7\n"),
        ("sys/devices/ap/card05/modalias", "ap:t0E\n"),
        ("sys/devices/ap/card05/05.0004/status", "in use\n"),
        ("sys/devices/ap/card0a/0a.0004/status", "assigned\n"),  # adapter 0a filtered out
        ("sys/devices/ap/card05/05.0001/online", "1\n"),
        (f"sys/devices/vfio_ap/matrix/{U_AD}/matrix", "05.0004\n05.0047\n0a.0004\n0a.0047\n"),
        (f"sys/devices/vfio_ap/matrix/{U_AD}/guest_matrix", "05.0004\n05.0047\n"),  # 0a.0047 does not exist
        (f"sys/devices/vfio_ap/matrix/{U_AD}/control_domains", "0004\n0047\n0054\n"),
        (f"sys/devices/vfio_ap/matrix/{U_A}/matrix", "0b.\n"),
        (f"sys/devices/vfio_ap/matrix/{U_D}/matrix", ".000c\n"),
        (f"sys/devices/vfio_ap/matrix/{U_D}/guest_matrix", ".000c\n"),
        (f"sys/devices/vfio_ap/matrix/{U_A}/ap_config", mask(11)[:-1] + "," + mask()[:-1] + "," + mask()),
        ("sys/devices/vfio_ap/matrix/features", "guest_matrix hotplug ap_config migratable\n"),
        ("sys/devices/vfio_ap/matrix/mdev_supported_types/vfio_ap-passthrough/available_instances", "65533\n"),
        ("sys/devices/vfio_ap/matrix/mdev_supported_types/vfio_ap-passthrough/device_api", "vfio-ap\n"),
    ],
)
def test_rendered_attribute_text(r1, rel, text):
    assert (r1 / rel).read_text() == text


@pytest.mark.parametrize(
    "rel, mode",
    [
        (f"sys/devices/vfio_ap/matrix/{U_A}/assign_adapter", 0o200),
        (f"sys/devices/vfio_ap/matrix/{U_A}/ap_config", 0o644),
        (f"sys/devices/vfio_ap/matrix/{U_A}/matrix", 0o444),
        ("sys/bus/ap/apmask", 0o644),
        ("sys/devices/ap/card05/05.0001/online", 0o644),
    ],
)
def test_rendered_modes(r1, rel, mode):
    assert stat.S_IMODE(os.lstat(r1 / rel).st_mode) == mode


@pytest.mark.parametrize(
    "rel, target",
    [
        ("sys/bus/ap/devices/05.0004", "../../../devices/ap/card05/05.0004"),
        ("sys/devices/ap/card05/05.0004/driver", "../../../../bus/ap/drivers/vfio_ap"),
        ("sys/devices/ap/card05/05.0001/driver", "../../../../bus/ap/drivers/cex4queue"),
        ("sys/class/mdev_bus/matrix", "../../devices/vfio_ap/matrix"),
        (f"sys/bus/mdev/devices/{U_A}", f"../../../devices/vfio_ap/matrix/{U_A}"),
        (f"sys/devices/vfio_ap/matrix/{U_A}/mdev_type", "../mdev_supported_types/vfio_ap-passthrough"),
    ],
)
def test_rendered_links_are_relative_and_resolve(r1, rel, target):
    assert os.readlink(r1 / rel) == target
    assert os.path.exists(r1 / rel)


def test_queue_files_follow_the_bound_driver(r1):
    host_q, vfio_q = r1 / "sys/devices/ap/card05/05.0001", r1 / "sys/devices/ap/card05/05.0047"
    assert {"online", "mkvps", "load"} <= set(os.listdir(host_q)) and "status" not in os.listdir(host_q)
    assert "status" in os.listdir(vfio_q) and not {"online", "mkvps"} & set(os.listdir(vfio_q))
    assert sorted(os.listdir(r1 / "sys/bus/ap/drivers/vfio_ap")) == ["05.0004", "05.0047", *(f"0a.000{d}" for d in range(5))]
    assert sorted(os.listdir(r1 / "sys/bus/ap/drivers/cex4queue")) == ["01.0000", "01.0001", *(f"05.000{d}" for d in range(4))]


def test_eio_attribute_is_left_out(r1):
    assert not (r1 / "sys/devices/ap/card05/05.0004/ap_functions").exists()
    assert (r1 / "sys/devices/ap/card05/05.0003/ap_functions").read_text() == "0x72800000\n"


def test_rendered_files_outside_sys(r1):
    definition = json.loads((r1 / "etc/mdevctl.d/matrix" / U_D).read_text())
    assert definition == {"mdev_type": "vfio_ap-passthrough", "start": "auto", "attrs": [
        {"assign_domain": "12"}, {"assign_control_domain": "12"}]}  # fmt: skip
    xml = (r1 / "run/libvirt/qemu/web1.xml").read_text()
    assert f"<address uuid='{U_AD}'/>" in xml and "model='vfio-ap'" in xml
    assert (r1 / "etc/libvirt/qemu/web1.xml").is_file()
    for rel in ("run/lock", "etc/udev/rules.d"):
        assert (r1 / rel).is_dir()


def test_demo_fleet_renders_every_host(rendered_demo):
    hosts = sorted(p.name for p in rendered_demo.iterdir())
    assert hosts == ["kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3"]
    assert (rendered_demo / "kvm-a1/sys/bus/ap/aqmask").read_text() == mask(0, 1, 2, *range(16, 256))
    assert (rendered_demo / "kvm-a3/sys/devices/vfio_ap/matrix/features").read_text() == "guest_matrix hotplug ap_config\n"


def test_long_listing_is_cut_at_one_page(tmp_path):
    uuid = "80000000-0000-4000-8000-0000000000ff"
    data = {"hosts": {"big": {"apmask": [], "aqmask": [], "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
                              "mdevs": [{"uuid": uuid, "adapters": "0-63", "domains": "0-15"}]}}}  # fmt: skip
    render_fleet(build_fleet(data), tmp_path)
    text = (tmp_path / "big/sys/devices/vfio_ap/matrix" / uuid / "matrix").read_text()
    assert len(text) == 4095  # 1024 APQNs would need 8192 characters
    assert text.startswith("00.0000\n00.0001\n") and text.endswith("\n1f.000e\n1f.000f")  # last line cut before its newline


@pytest.mark.parametrize("write, value", [("010", 8), ("0x9\n", 9), ("7", 7), ("+7 junk", 7), ("12", None), ("x", None)])
def test_ap_domain_is_parsed_like_sscanf_i(write, value):
    from apsim.view import HostView

    host = build_fleet({"hosts": {"d": {"aqmask": "0-9", "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}]}}})["d"]
    node = HostView(host).resolve(["bus", "ap", "ap_domain"])
    assert host.ap_domain == 0  # chosen at the first bus scan
    if value is None:
        with pytest.raises(OSError):
            node.store(write)
        assert host.ap_domain == 0
    else:
        node.store(write)
        assert node.show() == f"{value}\n"
