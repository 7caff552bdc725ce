"""The roles' input messages: the wrong value, the fix, nothing that was fine."""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import mdev_selection
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._input_errors import did_you_mean, selection_errors, unknown_hosts

KNOWN = ["kvm-p1", "kvm-p2", "kvm-p3", "kvm-p4"]

HOST_CASES = {
    "all known": (["kvm-p1", "kvm-p2"], ""),
    "one string": ("kvm-p4", ""),
    "empty": ([], "v is empty: name the hosts (inventory hosts of this play)"),
    "a typo, the nearest first of equals": (
        ["kvm-p1", "kvm-p9"], "v: 'kvm-p9' is not a host of this play (did you mean kvm-p1?); its hosts: kvm-p1, kvm-p2, kvm-p3, kvm-p4",
    ),
    "nothing near": (["db"], "v: 'db' is not a host of this play; its hosts: kvm-p1, kvm-p2, kvm-p3, kvm-p4"),
    "not names": ([1, 2], "v: expected a list of host names, got [1, 2]"),
}  # fmt: skip


@pytest.mark.parametrize(("names", "message"), list(HOST_CASES.values()), ids=list(HOST_CASES))
def test_unknown_hosts(names, message):
    assert unknown_hosts("v", names, KNOWN) == message


def test_many_known_hosts_are_cut_short():
    known = [f"h{i:02d}" for i in range(20)]
    assert unknown_hosts("v", ["x"], known).endswith("h07, ... (20 in all)")


def test_did_you_mean():
    assert did_you_mean("hsm2", ["web1", "hsm1"]) == " (did you mean hsm1?)"
    assert did_you_mean("zzz", ["web1", "hsm1"]) == ""


def _facts(*mdevs):
    return {"ansible_facts": {"vfio_ap": {"bus": {}, "queues": [], "driver": {"mdevs": [dict(m) for m in mdevs]}}}}


U1, U2, U3, U4 = (f"6c1a0000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3, 4))
HOSTVARS = {
    "kvm-p1": _facts({"uuid": U1, "guest": "pay1"}, {"uuid": U2, "guest": None}),
    "kvm-p2": _facts({"uuid": U3, "guest": "pay2"}),
    "kvm-p3": {"inventory_hostname": "kvm-p3"},
}

SELECTION_CASES = {
    "all found": ({"guests": ["pay1"], "uuids": [U2]}, []),
    "a guest that moved": ({"guests": ["pay2"]}, ["g: pay2 runs on kvm-p2 now, not on kvm-p1"]),
    "a mistyped guest": (
        {"guests": ["pay9", "pay1"]}, ["g: no vfio-ap guest named 'pay9' runs on kvm-p1 (did you mean pay1?) (vfio-ap guests there: pay1)"],
    ),
    "an mdev of another host": ({"uuids": [U3.upper()]}, [f"u: mdev {U3} is on kvm-p2, not on kvm-p1"]),
    "an mdev nowhere": (
        {"uuids": [U4]}, [f"u: no vfio_ap mdev {U4} is on kvm-p1 (nor on any other host with AP facts)"],
    ),
    "not a UUID": (
        {"uuids": ["pay1"]}, ["u: 'pay1' is not an mdev UUID (8-4-4-4-12 hexadecimal digits, as 'mdevctl list' shows)"],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("inputs", "messages"), list(SELECTION_CASES.values()), ids=list(SELECTION_CASES))
def test_selection_errors(inputs, messages):
    selection = mdev_selection(HOSTVARS, ["kvm-p1"], **inputs)
    assert selection_errors(selection, "kvm-p1", "u", "g") == messages


def test_selection_looks_elsewhere_only_when_something_is_missing():
    assert mdev_selection(HOSTVARS, ["kvm-p1"], guests=["pay1"])["elsewhere"] == {}
    assert mdev_selection(HOSTVARS, ["kvm-p1", "kvm-p2"], guests=["pay2"])["unknown_guests"] == []
