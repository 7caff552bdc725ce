"""ap_facts against a live-mounted simulated host whose state changes between runs.

The facts must follow the kernel: a mask change re-binds queues (cex4queue <-> vfio_ap) and the
module reads each queue's real driver link; a guest starting or stopping changes queue status and
the mdev's in_use; an EIO from a queue is a warning, never a failed task; and the module writes
nothing.
"""

from __future__ import annotations

import pytest
from apsim.testing import live_fleet_fixture, sysfs_write
from helpers.ansible_run import run_module
from helpers.fleet_facts import queues_by_apqn

pytestmark = pytest.mark.live

U1 = "6c1a0000-0000-4000-8000-0000000000f1"
FLEET = {
    "hosts": {
        "live1": {
            "migration": "kernel",
            "aqmask": "0-3,6-255",  # domains 4 and 5 reserved for vfio_ap
            "cards": [
                {"id": 1, "type": "CEX8C", "domains": "2-5"},
                {"id": 2, "type": "CEX8P", "domains": "2-5", "queues": {3: {"eio": True}}},
            ],
            "mdevs": [{"uuid": U1, "adapters": [1], "domains": [4], "control_domains": [4], "guest": "g1"}],
        }
    }
}

live = live_fleet_fixture(FLEET)


def _reserve_domain_2(root):
    assert sysfs_write(root / "sys/bus/ap/aqmask", "-2") == 0


def _assign_domain_5(root):
    assert sysfs_write(root / f"sys/devices/vfio_ap/matrix/{U1}/assign_domain", "5") == 0


def _give_domains_back(root):
    # domain 4 is assigned to the mdev: the kernel refuses to hand it back (EBUSY); domains 2 and 5 are free
    assert sysfs_write(root / "sys/bus/ap/aqmask", "+4") == 16  # EBUSY
    assert sysfs_write(root / f"sys/devices/vfio_ap/matrix/{U1}/unassign_domain", "5") == 0
    assert sysfs_write(root / "sys/bus/ap/aqmask", "+2,+5") == 0


# (what changes, then what the next ap_facts run must report)
STEPS = [
    ("initial state", None, None,
     {"vfio_domains": [4, 5], "drivers": {"01.0002": "cex4queue", "01.0004": "vfio_ap", "01.0005": "vfio_ap"},
      "status": {"01.0004": "in use", "01.0005": "unassigned"}, "apqns": ["01.0004"], "in_use": True}),
    ("mask change: domain 2 reserved for vfio_ap", _reserve_domain_2, None,
     {"vfio_domains": [2, 4, 5], "drivers": {"01.0002": "vfio_ap", "02.0002": "vfio_ap", "01.0003": "cex4queue"},
      "status": {"01.0002": "unassigned"}, "online": {"01.0002": None, "01.0003": True}}),
    ("mdev gets domain 5 while its guest runs (hot plug)", _assign_domain_5, None,
     {"apqns": ["01.0004", "01.0005"], "guest_apqns": ["01.0004", "01.0005"],
      "status": {"01.0005": "in use"}, "in_use": True}),
    ("guest stops", None, f"detach {U1}",
     {"status": {"01.0004": "assigned", "01.0005": "assigned"}, "in_use": False}),
    ("domains 2 and 5 given back to the host", _give_domains_back, None,
     {"vfio_domains": [4], "drivers": {"01.0002": "cex4queue", "01.0005": "cex4queue", "01.0004": "vfio_ap"},
      "online": {"01.0005": True}, "apqns": ["01.0004"], "status": {"01.0004": "assigned"}}),
]  # fmt: skip


def test_facts_follow_the_live_host(live):
    root = live.host_dir("live1")
    for title, change, control, want in STEPS:
        if change:
            change(root)
        if control:
            live.control("live1", control)
        writes_before = live.writes("live1")
        res = run_module("s390x.vfio_ap.ap_facts", {"sysroot": str(root)})
        assert not res.get("failed"), (title, res.get("msg"))
        assert res["changed"] is False
        assert live.writes("live1") == writes_before, f"{title}: ap_facts wrote to sysfs"
        facts = res["ansible_facts"]["vfio_ap"]
        queues = queues_by_apqn(facts)
        mdev = {m["uuid"]: m for m in facts["driver"]["mdevs"]}[U1]
        if "vfio_domains" in want:
            assert facts["bus"]["vfio_domains"] == want["vfio_domains"], title
        for apqn, driver in want.get("drivers", {}).items():
            assert queues[apqn]["driver"] == driver, (title, apqn)
        for apqn, status in want.get("status", {}).items():
            assert queues[apqn]["vfio_status"] == status, (title, apqn)
        for apqn, online in want.get("online", {}).items():
            assert queues[apqn]["online"] is online, (title, apqn)
        for key in ("apqns", "guest_apqns", "in_use"):
            if key in want:
                assert mdev[key] == want[key], (title, key)
        # the check-stopped-like queue answers EIO on every run: a warning, a null value, the task still ok
        assert queues["02.0003"]["functions"] is None and queues["02.0003"]["capabilities"] is None
        assert queues["02.0003"]["config"] is True
        eio = [w for w in res.get("warnings", []) if "02.0003/ap_functions" in w]
        assert len(eio) == 1 and "EIO" in eio[0], (title, res.get("warnings"))
        assert len(res["warnings"]) == 1, (title, res["warnings"])
