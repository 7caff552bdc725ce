"""migration_plan over the demo fleet and small scenario fleets: verdicts, agreement with
migration_check, summary, virsh commands, queries and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter.migration_check import migration_check
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_plan import migration_plan
from ansible_collections.s390x.vfio_ap.plugins.module_utils import _compat

EXPECTED = Path(__file__).resolve().parents[3] / "fleets" / "demo.expected.yml"


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory, demo_fleet_path):
    return facts_for_fleet(demo_fleet_path, tmp_path_factory.mktemp("plan-demo"))


@pytest.fixture(scope="module")
def demo_plan(demo_facts):
    return migration_plan(demo_facts, detail=True)


def _guests(plan):
    return {g["guest"]: g for g in plan["guests"] if g["guest"]}


def _cells():
    expected = yaml.safe_load(EXPECTED.read_text())["guests"]
    return [(guest, dest, cell) for guest, spec in expected.items() for dest, cell in spec["destinations"].items()]


@pytest.mark.parametrize(("guest", "destination", "cell"), _cells(), ids=[f"{g}->{d}" for g, d, _unused in _cells()])
def test_demo_plan_matches_the_fleet_intent(demo_plan, guest, destination, cell):
    entry = _guests(demo_plan)[guest]
    listed = [name for key in ("ready", "ready_after", "blocked") for name in entry[key] if name == destination]
    assert len(listed) == 1
    assert destination in entry[cell["verdict"]]
    assert sorted(code for code, hosts in entry["reasons"].items() if destination in hosts) == sorted(cell["blockers"])
    seen = {code for code, hosts in entry["warnings"].items() if destination in hosts}
    seen |= {w["code"] for w in entry["source_warnings"]}
    assert set(cell.get("warnings", [])) <= seen


def test_every_demo_guest_is_planned(demo_plan):
    expected = yaml.safe_load(EXPECTED.read_text())["guests"]
    assert set(_guests(demo_plan)) == set(expected)
    for guest, spec in expected.items():
        assert _guests(demo_plan)[guest]["verdict"] == spec["verdict"], guest
        assert _guests(demo_plan)[guest]["source"] == spec["source"]


def test_plan_agrees_with_migration_check_for_every_pair(demo_facts, demo_plan):
    for entry in demo_plan["guests"]:
        for destination, cell in entry["destinations"].items():
            result = migration_check(
                demo_facts[entry["source"]], demo_facts[destination], entry["uuid"], source=entry["source"], destination=destination
            )
            assert cell["verdict"] == ("ready" if result["ready"] else "ready_after" if result["ready_after"] else "blocked")
            from_index = sorted(code for code, hosts in entry["reasons"].items() if destination in hosts)
            assert from_index == sorted({b["code"] for b in result["blockers"]}), (entry["uuid"], destination)
            warned = {code for code, hosts in entry["warnings"].items() if destination in hosts}
            warned |= {w["code"] for w in entry["source_warnings"]}
            assert warned == {w["code"] for w in result["warnings"]}


def test_demo_summary(demo_plan):
    summary = demo_plan["summary"]
    assert (summary["guests"], summary["ready"], summary["ready_after"], summary["blocked"]) == (15, 2, 2, 11)
    assert summary["idle_mdevs"] == 2
    stranded = {s["guest"]: s["top_blockers"] for s in summary["stranded"]}
    assert stranded["db1"] == ["hw_type_older"]
    assert stranded["legacy3"][0] == "no_migration_support"
    assert summary["hosts"]["kvm-a3"]["verdict"] == "1 of 1 guests of kvm-a3 cannot leave"
    assert not summary["hosts"]["kvm-a1"]["evacuable"]


def test_suggestion_and_actions_for_the_role(demo_plan):
    hsm1 = _guests(demo_plan)["hsm1"]
    assert hsm1["suggested"] == "kvm-b1"
    assert [a["type"] for a in hsm1["actions"]] == ["ap_mask", "mdev"]
    assert hsm1["actions"][0]["domains"] == [3]
    assert _guests(demo_plan)["web1"]["suggested"] == "kvm-b1"
    assert _guests(demo_plan)["db1"]["suggested"] is None


def _pair_fleet(n_guests=2):
    def host():
        return {
            "usage_domains": "0-15",
            "control_domains": "0-15",
            "apmask": "0-255",
            "aqmask": "0-3,16-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
        }

    src, dst1, dst2 = host(), host(), host()
    src["mdevs"] = [
        {
            "uuid": f"6c1a0000-0000-4000-8000-0000000000{i:02x}",
            "adapters": [1],
            "domains": [4 + i],
            "control_domains": [4 + i],
            "guest": f"g{i}",
        }
        for i in range(n_guests)
    ]
    return {"hosts": {"src": src, "dst1": dst1, "dst2": dst2}}


@pytest.fixture(scope="module")
def pair_facts(tmp_path_factory):
    return facts_for_fleet(_pair_fleet(), tmp_path_factory.mktemp("plan-pair"))


def test_evacuation_after_preparation_spreads_guests(pair_facts):
    plan = migration_plan(pair_facts, sources=["src"])
    host = plan["summary"]["hosts"]["src"]
    assert host["evacuable_after_preparation"] and not host["evacuable"]
    assert host["verdict"] == "every guest of src can leave after preparation"
    assert sorted(g["suggested"] for g in plan["guests"]) == ["dst1", "dst2"]


@pytest.mark.parametrize(
    ("network", "addresses", "command_end", "error"),
    [
        ("10.0.0.0/24", {"src": "10.0.0.1", "dst1": "10.0.0.2", "dst2": "10.0.0.3"}, "tcp://10.0.0.", None),
        ("fd00::/64", {"src": "fd00::1", "dst1": "fd00::2", "dst2": "fd00::3"}, "tcp://[fd00::", None),
        ("10.0.0.0/24", {"src": "10.0.0.1", "dst1": "10.9.0.2", "dst2": "10.9.0.3"}, None, "is not in migration_network"),
        ("10.0.0.0/24", {"src": "10.0.0.1"}, None, "has no vfio_ap_migration_address"),
        ("10.0.0.0/24", {"src": "nonsense", "dst1": "10.0.0.2", "dst2": "10.0.0.3"}, None, "is not an IP address"),
    ],
)
def test_migrate_commands(pair_facts, network, addresses, command_end, error):
    hostvars = {
        name: {"ansible_facts": {"vfio_ap": facts}, "vfio_ap_migration_address": addresses.get(name)} for name, facts in pair_facts.items()
    }
    plan = migration_plan(hostvars, sources=["src"], migration_network=network)
    for entry in plan["guests"]:
        if error:
            assert entry["command"] is None and error in entry["command_error"]
        else:
            assert entry["command"].startswith(
                f"virsh migrate --live --persistent --undefinesource {entry['guest']} qemu+ssh://{entry['suggested']}/system --migrateuri "
            )
            assert command_end in entry["command"] and entry["command_error"] is None


def test_query_selects_from_the_plan(demo_facts):
    result = migration_plan(demo_facts, query="guests[?verdict=='ready'].guest")
    assert sorted(result) == ["v1ok", "web1"]


def test_sources_and_destinations_limit_the_plan(demo_facts):
    plan = migration_plan(demo_facts, sources=["kvm-a1"], destinations=["kvm-b1"])
    assert {g["source"] for g in plan["guests"]} == {"kvm-a1"}
    assert all(set(g["ready"] + g["ready_after"] + g["blocked"]) == {"kvm-b1"} for g in plan["guests"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sources": ["nohost"]}, "sources: nohost not in facts_by_host"),
        ({"rules": "lenient"}, "rules: expected one of"),
        ({"migration_network": "10.0.0.0/99"}, "migration_network"),
        ({"query": "guests[?"}, "query"),
        ({"mkvps": ["x"]}, "mkvps"),
    ],
)
def test_plan_bad_arguments(demo_facts, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        migration_plan(demo_facts, **kwargs)


@pytest.mark.parametrize(
    ("facts_by_host", "message"),
    [
        ({}, "facts_by_host: expected a non-empty mapping"),
        ({"h": {"inventory_hostname": "h"}}, "no vfio_ap facts"),
        ({"h": {"vfio_ap": {"bus": {}}}}, "key 'cards'"),
        ({"h": 3}, r"facts_by_host\['h'\]"),
    ],
)
def test_plan_bad_facts(facts_by_host, message):
    with pytest.raises(AnsibleFilterError, match=message):
        migration_plan(facts_by_host)


def test_check_filter_names_the_argument(demo_facts):
    with pytest.raises(AnsibleFilterError, match="migration_check: uuid"):
        migration_check(demo_facts["kvm-a1"], demo_facts["kvm-b1"], "not-a-uuid-of-the-source")


def test_reason_codes_are_documented():
    text = (Path(__file__).resolve().parents[4] / "docs" / "reason-codes.md").read_text()
    for code in _compat.BLOCKER_CODES + _compat.WARNING_CODES:
        assert f"`{code}`" in text, code
