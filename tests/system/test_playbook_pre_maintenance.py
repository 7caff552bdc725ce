"""playbooks/pre_maintenance.yml and the evacuation choice behind it (filter evacuation_plan).

The choice is checked on small fleets built here (guests of two hosts in maintenance, sharing or
not sharing APQNs, against one or two destinations); the playbook runs on the live demo fleet:
kvm-a1 goes into maintenance, web1 is sent to kvm-b1 (ready), hsm1 to kvm-b1 after preparation,
the rest is stranded; check mode writes nothing, the real run prepares kvm-b1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apsim.testing import live_fleet_fixture
from helpers.ansible_run import local_inventory, run_playbook
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter.evacuation_plan import evacuation_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "pre_maintenance.yml"
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"


def host(mdevs: list[dict]) -> dict:
    """A kernel-series LPAR with CEX8C cards 1 and 2 (domains 0-15, 4-15 reserved for vfio_ap)."""
    return {
        "migration": "kernel",
        "usage_domains": "0-15",
        "control_domains": "0-15",
        "aqmask": "0-3,16-255",
        "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}, {"id": 2, "type": "CEX8C", "domains": "0-15"}],
        "mdevs": mdevs,
    }


def guest(n: int, adapter: int, domain: int) -> dict:
    return {
        "uuid": f"6c1a0000-0000-4000-8000-0000000000{n:02d}",
        "adapters": [adapter],
        "domains": [domain],
        "control_domains": [domain],
        "guest": f"g{n}",
    }


CASES = {
    # same APQN 01.0004 on both maintenance hosts, two destinations: one guest each
    "shared APQN, two destinations": ([guest(1, 1, 4)], [guest(2, 1, 4)], ["dst1", "dst2"], {"g1": "dst1", "g2": "dst2"}),
    # same APQN, one destination: the second guest cannot share it
    "shared APQN, one destination": ([guest(1, 1, 4)], [guest(2, 1, 4)], ["dst1"], {"g1": "dst1", "g2": None}),
    # different APQNs: all fit one destination, but the load is spread (placed in source, UUID order)
    "distinct APQNs, load spread": (
        [guest(1, 1, 4), guest(3, 2, 6)],
        [guest(2, 1, 5)],
        ["dst1", "dst2"],
        {"g1": "dst1", "g3": "dst2", "g2": "dst1"},
    ),
    # three guests, one destination, distinct APQNs: all fit
    "distinct APQNs, one destination": (
        [guest(1, 1, 4), guest(3, 2, 6)],
        [guest(2, 1, 5)],
        ["dst1"],
        {"g1": "dst1", "g2": "dst1", "g3": "dst1"},
    ),
}


@pytest.mark.parametrize("src1, src2, destinations, expected", list(CASES.values()), ids=list(CASES))
def test_evacuation_choice(tmp_path, src1, src2, destinations, expected):
    fleet = {"hosts": {"src1": host(src1), "src2": host(src2), **{d: host([]) for d in destinations}}}
    facts = facts_for_fleet(fleet, tmp_path)
    plan = build_plan(facts, sources=["src1", "src2"], destinations=destinations)
    evacuation = evacuation_plan(plan, prepare=True)
    chosen = {g["guest"]: g["destination"] for g in evacuation["guests"]}
    assert chosen == expected
    for g in evacuation["guests"]:
        assert g["status"] == ("stranded" if g["destination"] is None else "prepare")  # mdev missing there
        if g["destination"]:
            assert g["command"].startswith(
                f"virsh migrate --live --persistent --undefinesource --domain {g['guest']} --desturi qemu+ssh://{g['destination']}/system"
            )
        else:
            assert "shared APQN" in g["reason"]
    assert evacuation["evacuable"] is (None not in expected.values())
    per_destination = {d: sorted(v["guests"]) for d, v in evacuation["destinations"].items()}
    assert sum(len(v) for v in per_destination.values()) == sum(1 for v in expected.values() if v)


def test_capacity_limits_new_mdevs(tmp_path):
    fleet = {"hosts": {"src1": host([guest(1, 1, 4), guest(2, 1, 5)]), "dst1": host([]), "dst2": host([])}}
    plan = build_plan(facts_for_fleet(fleet, tmp_path), sources=["src1"], destinations=["dst1", "dst2"])
    full = evacuation_plan(plan, prepare=True, capacity={"dst1": 1, "dst2": 0})
    assert [g["destination"] for g in full["guests"]] == ["dst1", None]
    assert "without free mdev instances" in full["guests"][1]["reason"]
    waiting = evacuation_plan(plan, prepare=False)
    assert waiting["evacuable"] is False and "vfio_ap_maintenance_prepare" in waiting["verdict"]


live = live_fleet_fixture(ROOT / "tests" / "fleets" / "demo.yml")


@pytest.mark.live
@pytest.mark.slow
def test_pre_maintenance_playbook(live, tmp_path):
    hosts = {
        name: {"vfio_ap_sysroot": str(live.host_dir(name)), "vfio_ap_migration_address": f"192.0.2.{i}"}
        for i, name in enumerate(("kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3"), start=11)
    }
    inventory = local_inventory(hosts, tmp_path / "inventory.yml")
    extra = {
        "vfio_ap_maintenance_hosts": "kvm-a1",
        "vfio_ap_maintenance_prepare": "true",
        "vfio_ap_maintenance_report_dir": str(tmp_path / "out"),
    }

    before = {h: live.writes(h) for h in hosts}
    dry = run_playbook(PLAYBOOK, inventory, extra_vars=extra, check=True)
    assert dry.rc == 0, dry.stdout[-3000:]
    assert dry.changed_total() > 0
    assert {h: live.writes(h) for h in hosts} == before

    result = run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    assert result.rc == 0, result.stdout[-3000:]
    assert HSM1 in live.state("kvm-b1")["mdevs"]
    evacuation = json.loads((tmp_path / "out" / "evacuation.json").read_text())
    chosen = {g["guest"]: (g["destination"], g["status"]) for g in evacuation["guests"]}
    assert chosen["web1"] == ("kvm-b1", "ready") and chosen["hsm1"] == ("kvm-b1", "prepare")
    assert chosen["db1"] == (None, "stranded")
    assert evacuation["evacuable"] is False and evacuation["summary"]["stranded"] == 4
    published = result.data["custom_stats"]["_run"]["vfio_ap_maintenance_summary"]
    assert (
        "virsh migrate --live --persistent --undefinesource --domain hsm1 --desturi qemu+ssh://kvm-b1/system --migrateuri tcp://192.0.2.14"
    ) in published["commands"]
    assert "hsm1" in (tmp_path / "out" / "evacuation.md").read_text()
