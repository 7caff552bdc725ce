"""ap_facts and the readiness rules on older kernel generations (tests/fleets/old-kernels.yml).

Each host of that fleet runs one generation (v6.12, v6.10, v6.0, v5.17) with the same layout:
guest web on 01.0008, a spare mdev on 02.0009 and an empty mdev.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _readiness

FLEET = Path(__file__).resolve().parents[3] / "fleets" / "old-kernels.yml"
CODE = {"k612": "0612", "k610": "0610", "k60": "0600", "k517": "0517"}


def uuid(host: str, n: int) -> str:
    return f"0d000000-0000-4000-8000-000000{CODE[host]}0{n}"


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    return facts_for_fleet(FLEET, tmp_path_factory.mktemp("old-kernels"), with_warnings=True)


@pytest.mark.parametrize(
    "host, features",
    [
        ("k612", ["ap_config", "guest_matrix", "hotplug"]),
        ("k610", []),
        ("k60", []),
        ("k517", []),
    ],
)
def test_facts_of_each_generation(gathered, host, features):
    facts, warnings = gathered[host]
    assert warnings == []
    vfio = facts["driver"]
    assert vfio["loaded"] is True
    assert vfio["features"] == features
    assert vfio["migration"] == "none"
    mdevs = {m["uuid"]: m for m in vfio["mdevs"]}
    web, spare, empty = (mdevs[uuid(host, n)] for n in (1, 2, 3))
    assert web["apqns"] == ["01.0008"] and web["guest_apqns"] == ["01.0008"]
    assert web["in_use"] is True and web["guest"] == "web" and web["control_domains"] == [8]
    assert spare["guest_apqns"] == ["02.0009"] and spare["in_use"] is False
    assert empty["apqns"] == [] and empty["guest_apqns"] == [] and empty["in_use"] is False
    statuses = {q["apqn"]: q.get("vfio_status") for q in facts["queues"]}
    assert statuses["01.0008"] == "in use" and statuses["02.0009"] == "assigned" and statuses["01.000a"] == "unassigned"


def test_static_kernel_guest_gets_the_whole_assignment(tmp_path):
    """Without guest_matrix (before v6.0) the guest's masks are the assignment: no filtering."""
    fleet = {
        "hosts": {
            "old": {
                "kernel": "v5.17",
                "aqmask": "0-7",
                "cards": [{"id": 1, "type": "CEX7C", "domains": "0-15"}],
                # adapter 9 has no card: a dynamic kernel would drop it from the guest
                "mdevs": [{"uuid": uuid("k517", 9), "adapters": [1, 9], "domains": [8], "guest": "g"}],
            }
        }
    }
    facts, warnings = facts_for_fleet(fleet, tmp_path, with_warnings=True)["old"]
    assert warnings == []
    (mdev,) = facts["driver"]["mdevs"]
    assert mdev["guest_apqns"] == ["01.0008", "09.0008"] and mdev["in_use"] is True


@pytest.mark.parametrize("source", sorted(CODE))
@pytest.mark.parametrize("destination", sorted(CODE))
def test_readiness_on_hosts_without_migration_support(gathered, source, destination):
    """No generation here has the migration series: every check blocks with no_migration_support."""
    result = _readiness.migration_check(
        gathered[source][0], gathered[destination][0], uuid(source, 1), source=source, destination=destination
    )
    codes = {b["code"] for b in result["blockers"]}
    assert result["ready"] is False and result["ready_after"] is False
    assert "no_migration_support" in codes
