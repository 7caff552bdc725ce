"""_destination_actions: what the destination role runs to make a destination ready (migration_check's ``actions``)."""

from __future__ import annotations

import pytest
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _destination_actions as A
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H

UUID = "6c1a0000-0000-4000-8000-0000000000aa"


@pytest.mark.parametrize(
    ("apqns", "expected"),
    [
        ([], None),
        (["01.0005"], {"type": "ap_mask", "adapters": [], "domains": [5], "state": "reserved", "persistent": True}),
        (
            ["02.0006", "01.0005", "03.0005"],
            {"type": "ap_mask", "adapters": [], "domains": [5, 6], "state": "reserved", "persistent": True},
        ),
    ],
)
def test_reservation_reserves_domains_and_leaves_apmask_alone(apqns, expected):
    assert A.reservation_action(apqns) == expected


@pytest.fixture(scope="module")
def destination(tmp_path_factory):
    """A destination with mdev UUID defined and started, its configuration known (01.0005, control domain 5)."""
    host = {
        "migration": "kernel", "usage_domains": "0-15", "control_domains": "0-15", "apmask": "0-255", "aqmask": "0-3,16-255",
        "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
        "mdevs": [{"uuid": UUID, "adapters": [1], "domains": [5], "control_domains": [5]}],
        "definitions": [{"uuid": UUID, "start": "auto", "adapters": [1], "domains": [5], "control_domains": [5]}],
    }  # fmt: skip
    facts = facts_for_fleet({"hosts": {"dst": host}}, tmp_path_factory.mktemp("dst"))
    return H.HostFacts(facts["dst"], "dst")


def test_an_existing_mdev_needs_nothing_unless_a_code_asks(destination):
    assert A.mdev_action(destination, UUID, ["01.0005"], [5], True, set()) is None
    persist = A.mdev_action(destination, UUID, ["01.0005"], [5], False, {"not_persistent"})
    assert persist == {"type": "mdev", "uuid": UUID, "state": "present", "adapters": [1], "domains": [5], "control_domains": [5],
                       "persistent": True, "start": "auto"}  # fmt: skip


def test_a_missing_mdev_is_created_with_the_guest_apqns_under_attribute_checks(destination):
    other = "6c1a0000-0000-4000-8000-0000000000bb"
    assert A.mdev_action(destination, other, ["02.0006", "01.0005"], [6, 5], True, set())["adapters"] == [1, 2]
    assert A.mdev_action(destination, other, ["02.0006", "01.0005"], [6, 5], False, set())["domains"] == []


def test_actions_come_in_the_order_the_role_runs_them(destination):
    other = "6c1a0000-0000-4000-8000-0000000000bb"
    actions = A.destination_actions(destination, other, ["01.0005"], [5], True, ["01.0005"], set())
    assert [a["type"] for a in actions] == ["ap_mask", "mdev"]
    assert A.destination_actions(destination, UUID, ["01.0005"], [5], True, [], set()) == []
