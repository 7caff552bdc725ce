"""Facts of the default domain, coprocessor serial numbers and queue driver overrides."""

from __future__ import annotations

import pytest
from helpers.fleet_facts import facts_for_fleet

CARD = {"id": 1, "type": "CEX8C", "domains": "0-15", "serialnr": "93AADA01"}
FLEET = {
    "hosts": {
        # default domain 4: domains 0-3 reserved for vfio_ap
        "dom4": {"aqmask": "4-255", "cards": [dict(CARD)]},
        # nothing left for the host drivers: no default domain, so no CCA serial number
        "none": {"aqmask": "", "cards": [dict(CARD), {"id": 2, "type": "CEX8P", "domains": "0-15"}]},
        # masks all ones: queue 01.0005 passed to vfio_ap by a driver_override
        "ovr": {"cards": [{**CARD, "queues": {5: {"driver_override": "vfio_ap"}}}]},
        # an older kernel: no driver_override attribute
        "old": {"kernel": "v6.12", "cards": [dict(CARD)]},
    }
}


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    return facts_for_fleet(FLEET, tmp_path_factory.mktemp("bus"), with_warnings=True)


@pytest.mark.parametrize("host, domain, serial", [("dom4", 4, "93AADA01"), ("none", None, None), ("ovr", 0, "93AADA01")])
def test_default_domain_and_cca_serial(gathered, host, domain, serial):
    facts, warnings = gathered[host]
    assert warnings == []
    assert facts["bus"]["default_domain"] == domain
    assert facts["cards"][0]["serialnr"] == serial


def test_ep11_serial_needs_a_zcrypt_queue(gathered):
    facts, _warnings = gathered["none"]
    assert facts["cards"][1]["serialnr"] is None


def test_driver_override_is_reported_and_decides_the_driver(gathered):
    facts, _warnings = gathered["ovr"]
    queues = {q["apqn"]: q for q in facts["queues"]}
    assert queues["01.0005"]["driver_override"] == "vfio_ap" and queues["01.0005"]["driver"] == "vfio_ap"
    assert queues["01.0005"]["vfio_status"] == "unassigned"
    assert queues["01.0004"] == {"apqn": "01.0004", "driver": "cex4queue"}  # no override: compact record without it
    assert facts["bus"]["vfio_domains"] == []  # the masks say nothing about overrides


@pytest.mark.parametrize("host", ["dom4", "old"])
def test_no_driver_override_where_there_can_be_none(gathered, host):
    facts, warnings = gathered[host]
    assert warnings == [] and all("driver_override" not in q for q in facts["queues"])


U = "6c1a0000-0000-4000-8000-0000000000aa"
PAIR = {
    "hosts": {
        "src": {"aqmask": "0-3,16-255", "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
                "mdevs": [{"uuid": U, "adapters": [1], "domains": [5], "control_domains": [5], "guest": "g1"}]},
        # 01.0005 reserved for vfio_ap by a driver_override (masks all ones)
        "dst-ovr": {"cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "queues": {5: {"driver_override": "vfio_ap"}}}],
                    "mdevs": [{"uuid": U}]},
        # 01.0005 with the host driver: masks all ones, no override
        "dst-host": {"cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}], "mdevs": [{"uuid": U}]},
    }
}  # fmt: skip


@pytest.mark.parametrize("destination, bound", [("dst-ovr", True), ("dst-host", False)])
def test_readiness_sees_the_binding_a_driver_override_makes(tmp_path, destination, bound):
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _readiness

    facts = facts_for_fleet(PAIR, tmp_path)
    result = _readiness.migration_check(facts["src"], facts[destination], U, source="src", destination=destination)
    codes = {b["code"] for b in result["blockers"]}
    assert ("apqn_not_bound" in codes) is not bound
