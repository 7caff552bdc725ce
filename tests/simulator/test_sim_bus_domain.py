"""The AP bus default domain, coprocessor serial numbers, the SE bind state and driver_override.

Default domain: ap_select_domain() in drivers/s390/crypto/ap_bus.c picks, at a bus scan and only
while none is set, the first usage domain the LPAR has and aqmask holds that an adapter in the LPAR
and in apmask serves with a queue answering TAPQ normally. Serial numbers: the CCA card reports it
through the default domain's queue (zcrypt_cex4.c), EP11 prints ``%16.16s``.
"""

from __future__ import annotations

import errno

import pytest

from apsim.fleet import build_fleet
from apsim.testing import fresh_live_fleet, sysfs_read, sysfs_write  # noqa: F401  # pylint: disable=unused-import
from apsim.view import HostView

CARD = {"id": 1, "type": "CEX8C", "domains": "0-15"}


def host_of(**spec):
    base = {"cards": [dict(CARD)]}
    base.update(spec)
    return build_fleet({"hosts": {"h": base}})["h"]


def read(host, *parts):
    return HostView(host).resolve(list(parts)).show()


@pytest.mark.parametrize(
    "spec, domain",
    [
        ({}, 0),
        ({"aqmask": "4-255"}, 4),  # domains 0-3 reserved for vfio_ap: not the host's
        ({"usage_domains": "5-15", "cards": [{**CARD, "domains": "5-15"}]}, 5),  # the LPAR's usage domains start at 5
        ({"apmask": "2-255"}, -1),  # card 1 outside apmask: no adapter serves any domain
        ({"apmask": "2-255", "cards": [dict(CARD), {**CARD, "id": 2, "domains": "6-7"}]}, 6),
        ({"cards": [{**CARD, "queues": {0: {"chkstop": True}, 1: {"config": False}}}]}, 2),
        ({"cards": [{**CARD, "config": False}, {**CARD, "id": 2, "domains": "3-4"}]}, 3),
        ({"cards": []}, -1),
        ({"ap_domain": 7}, 7),  # the domain= kernel parameter
    ],
)
def test_default_domain_selection(spec, domain):
    host = host_of(**spec)
    assert host.ap_domain == domain
    assert read(host, "bus", "ap", "ap_domain") == f"{domain}\n"


def test_default_domain_is_picked_by_the_next_scan_and_kept_when_masks_change():
    host = host_of(aqmask="")  # every domain reserved for vfio_ap: nothing to pick
    assert host.ap_domain == -1
    host.write_mask("aqmask", "+9")
    assert host.ap_domain == 9
    host.write_mask("aqmask", "-9,+2")
    assert host.ap_domain == 9  # once chosen it stays; only an ap_domain write changes it
    HostView(host).resolve(["bus", "ap", "ap_domain"]).store("2")
    assert host.ap_domain == 2


def test_scan_picks_after_a_card_comes_back():
    host = host_of(cards=[{**CARD, "config": False}])
    assert host.ap_domain == -1
    host.control("card 1 config 1")
    assert host.ap_domain == 0


@pytest.mark.parametrize(
    "spec, serials",
    [
        # default domain 0 is served by card 1 (zcrypt); card 2 has no queue in domain 0
        ({"cards": [{**CARD, "serialnr": "93AADA01"}, {**CARD, "id": 2, "domains": "8-15", "serialnr": "93AADA02"}]},
         {1: "93AADA01\n", 2: "\n"}),
        # no default domain: no CCA serial number
        ({"aqmask": "", "cards": [{**CARD, "serialnr": "93AADA01"}]}, {1: "\n"}),
        # EP11: the firmware's 16 characters, as the kernel prints them (%16.16s)
        ({"cards": [{**CARD, "type": "CEX8P"}, {**CARD, "id": 2, "type": "CEX8P", "serialnr": "93AADA02000000AB"}]},
         {1: "93AA000100000000\n", 2: "93AADA02000000AB\n"}),
        # EP11 card whose queues all belong to vfio_ap: zcrypt cannot ask it
        ({"aqmask": "", "cards": [{**CARD, "type": "CEX8P"}]}, {1: "\n"}),
    ],
)  # fmt: skip
def test_serial_numbers(spec, serials):
    host = host_of(**spec)
    for card_id, text in serials.items():
        assert read(host, "devices", "ap", f"card{card_id:02x}", "serialnr") == text


def test_se_bind_state_brings_the_apsb_facility():
    host = host_of(cards=[{**CARD, "queues": {3: {"bs": 2}}}])
    assert read(host, "bus", "ap", "features") == "APSC APXA QACT RC8A APSB\n"
    assert read(host, "devices", "ap", "card01", "01.0003", "ap_functions").strip().endswith("8000")
    assert read(host_of(), "bus", "ap", "features") == "APSC APXA QACT RC8A\n"


@pytest.mark.parametrize("kernel, present", [("v6.19", True), ("v6.12", False)])
def test_driver_override_attribute_by_generation(kernel, present):
    host = host_of(kernel=kernel)
    assert (HostView(host).resolve(["devices", "ap", "card01", "01.0003", "driver_override"]) is not None) is present


@pytest.mark.live
def test_driver_override_binding_and_mask_exclusion(fresh_live_fleet):  # noqa: F811
    uuid = "90000000-0000-4000-8000-000000000001"
    fleet = fresh_live_fleet({"hosts": {"o": {"cards": [dict(CARD)], "mdevs": [{"uuid": uuid}]},
                                        "m": {"aqmask": "0-7", "cards": [dict(CARD)]}}})  # fmt: skip
    root = fleet.host_dir("o")
    queue = root / "sys/bus/ap/devices/01.0005"
    assert sysfs_read(queue / "driver_override") == "\n"
    assert (queue / "driver").readlink().name == "cex4queue"
    mdev = root / "sys/devices/vfio_ap/matrix" / uuid
    assert sysfs_write(mdev / "assign_domain", "5") == 0
    assert sysfs_write(mdev / "assign_adapter", "1") == errno.EADDRNOTAVAIL  # 01.0005 is the host's
    assert sysfs_write(queue / "driver_override", "vfio_ap\n") == 0
    assert sysfs_read(queue / "driver_override") == "vfio_ap\n"
    assert (queue / "driver").readlink().name == "vfio_ap" and sysfs_read(queue / "status") == "unassigned\n"
    assert sysfs_write(mdev / "assign_adapter", "1") == 0  # now reserved for vfio_ap by the override
    assert sysfs_read(queue / "status") == "assigned\n"
    # masks and overrides exclude each other
    assert sysfs_write(root / "sys/bus/ap/aqmask", "-3") == errno.EBUSY
    assert sysfs_write(fleet.host_dir("m") / "sys/bus/ap/devices/01.0009/driver_override", "vfio_ap") == errno.EINVAL
    # an override naming a driver that is not there leaves the queue unbound; clearing it restores the default
    assert sysfs_write(root / "sys/bus/ap/devices/01.0006/driver_override", "nosuch") == 0
    assert not (root / "sys/bus/ap/devices/01.0006/driver").exists()
    assert sysfs_write(root / "sys/bus/ap/devices/01.0006/driver_override", "\n") == 0
    assert (root / "sys/bus/ap/devices/01.0006/driver").readlink().name == "cex4queue"
