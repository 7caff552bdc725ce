"""The rolling maintenance plan (filter rolling_plan): order of batches, destinations, stranded guests.

Small fleets are built here from fleet data (rendered and gathered like real hosts), one property
per case; the demo fleet checks the whole plan against the engine (every planned first move is one
migration_check accepts) and the simulator's notes.
"""

from __future__ import annotations

import copy
import json
import random

import pytest
from ansible.errors import AnsibleFilterError
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter.migration_check import migration_check
from ansible_collections.s390x.vfio_ap.plugins.filter.rolling_plan import rolling_plan

CARDS = [{"id": 1, "type": "CEX8C", "domains": "0-15"}, {"id": 2, "type": "CEX8C", "domains": "0-15"}]


def lpar(*guests: dict, cards: list | None = None, migration: str = "kernel") -> dict:
    """A kernel-series LPAR with cards 1 and 2 (domains 0-15; 4-15 reserved for vfio_ap) running guests."""
    return {"migration": migration, "usage_domains": "0-15", "control_domains": "0-15", "aqmask": "0-3,16-255",
            "cards": cards or CARDS, "mdevs": list(guests)}  # fmt: skip


def guest(name: str, n: int, adapter: int, domain: int, **extra) -> dict:
    return {"uuid": f"90000000-0000-4000-8000-0000000000{n:02d}", "adapters": [adapter], "domains": [domain],
            "control_domains": [domain], "guest": name, **extra}  # fmt: skip


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    """Return a function: fleet hosts -> {host: facts} (gathered once per distinct fleet)."""
    seen: dict[str, dict] = {}

    def gather(hosts: dict) -> dict:
        key = json.dumps(hosts, sort_keys=True)
        if key not in seen:
            seen[key] = facts_for_fleet({"hosts": hosts}, tmp_path_factory.mktemp("rolling"))
        return copy.deepcopy(seen[key])

    return gather


SWAP = {"a": lpar(guest("g1", 1, 1, 4)), "b": lpar(guest("g2", 2, 1, 5))}  # each guest can only go to the other host
OLD = [{"id": 1, "type": "CEX7C", "domains": "0-15"}, {"id": 2, "type": "CEX7C", "domains": "0-15"}]


def paths(plan: dict) -> dict[str, list[str]]:
    return {g["guest"]: [g["home"]] + [m["to"] for m in g["moves"]] for g in plan["guests"]}


# (case, fleet, rolling_plan options, expected: paths, stranded guests, batches)
CASES = [
    (
        "two hosts that only have each other: the first one's guest moves twice",
        SWAP,
        {"hosts": ["a", "b"]},
        {"paths": {"g1": ["a", "b", "a"], "g2": ["b", "a"]}, "stranded": [], "batches": [["a"], ["b"]]},
    ),
    (
        "a host not due for maintenance is preferred: nobody moves twice",
        {**SWAP, "c": lpar()},
        {"hosts": ["a", "b"]},
        {"paths": {"g1": ["a", "c"], "g2": ["b", "c"]}, "stranded": []},
    ),
    (
        "an avoided host is never a destination",
        {**SWAP, "c": lpar()},
        {"hosts": ["a", "b"], "avoid": "c"},
        {"paths": {"g1": ["a", "b", "a"], "g2": ["b", "a"]}, "stranded": []},
    ),
    (
        "a batch of two would strand both: the planned batch stays smaller",
        SWAP,
        {"hosts": ["a", "b"], "batch_size": 2},
        {"stranded": [], "batches": [["a"], ["b"]], "order": "planned"},
    ),
    (
        "the given order, forced: both go down together and have nowhere to go",
        SWAP,
        {"hosts": ["a", "b"], "batch_size": 2, "order": "given"},
        {"stranded": ["g1", "g2"], "unavoidable": ["g1", "g2"], "batches": [["a", "b"]], "unavailable": {"g1": {"same_batch": 1}}},
    ),
    (
        "the APQN a guest takes is not free for the next (apqn_in_use from the plan itself)",
        {"a": lpar(guest("g1", 1, 1, 4)), "b": lpar(guest("g2", 2, 1, 4)), "c": lpar()},
        {"hosts": ["a", "b"], "batch_size": 2, "order": "given"},
        {"stranded": ["g2"], "unavailable": {"g2": {"apqn_in_use": 1}}},
    ),
    (
        "given: the one destination of b's guest goes down with it",
        {"a": lpar(guest("g1", 1, 1, 4)), "b": lpar(guest("g2", 2, 2, 5)), "c": lpar(cards=CARDS[:1])},
        {"hosts": ["a", "b"], "batch_size": 2, "order": "given"},
        {"stranded": ["g2"], "unavailable": {"g2": {"same_batch": 1}}, "paths": {"g1": ["a", "c"]}},
    ),
    (
        "planned: that host waits for the next batch and then takes the guest (one move each)",
        {"a": lpar(guest("g1", 1, 1, 4)), "b": lpar(guest("g2", 2, 2, 5)), "c": lpar(cards=CARDS[:1])},
        {"hosts": ["a", "b"], "batch_size": 2},
        {"paths": {"g1": ["a", "c"], "g2": ["b", "a"]}, "stranded": [], "batches": [["a"], ["b"]], "order": "planned"},
    ),
    (
        "an older card is a trap: g2 moves up to the newer host due later, and cannot come back down",
        {"new": lpar(guest("g1", 1, 1, 4)), "old": lpar(guest("g2", 2, 1, 5), cards=OLD)},
        {"hosts": ["old", "new"], "order": "given"},
        {"stranded": ["g1", "g2"], "paths": {"g1": ["new"], "g2": ["old", "new"]}, "blockers": {"g2": {"hw_type_older": 1}}},
    ),
    (
        "the same fleet planned: no guest stranded (only g1 stays, it can never go to the older card)",
        {"new": lpar(guest("g1", 1, 1, 4)), "old": lpar(guest("g2", 2, 1, 5), cards=OLD)},
        {"hosts": ["old", "new"]},
        {"stranded": ["g1"], "unavoidable": ["g1"], "paths": {"g1": ["new"], "g2": ["old", "new"]}, "batches": [["new"], ["old"]]},
    ),
    (
        "migration disabled (series v1 migratable 0) strands the guest ...",
        {"a": lpar(guest("g1", 1, 1, 4, migratable=0), migration="attribute"), "c": lpar(migration="attribute")},
        {"hosts": ["a"]},
        {"stranded": ["g1"], "blockers": {"g1": {"migration_disabled": 1}}},
    ),
    (
        "... unless the run enables migration",
        {"a": lpar(guest("g1", 1, 1, 4, migratable=0), migration="attribute"), "c": lpar(migration="attribute")},
        {"hosts": ["a"], "enable_migration": True},
        {"stranded": [], "paths": {"g1": ["a", "c"]}},
    ),
    (
        "series v1: the mdev a guest lands on starts with migratable 0, so it cannot leave again ...",
        {
            "a": lpar(guest("g1", 1, 1, 4, migratable=1), migration="attribute"),
            "b": lpar(guest("g2", 2, 1, 5, migratable=1), migration="attribute"),
        },
        {"hosts": ["a", "b"]},
        {"stranded": ["g1"], "unavoidable": ["g1"], "blockers": {"g1": {"migration_disabled": 1}}, "paths": {"g2": ["b", "a"]}},
    ),
    (
        "... unless the run enables migration: then it comes back to its own mdev",
        {
            "a": lpar(guest("g1", 1, 1, 4, migratable=1), migration="attribute"),
            "b": lpar(guest("g2", 2, 1, 5, migratable=1), migration="attribute"),
        },
        {"hosts": ["a", "b"], "enable_migration": True},
        {"stranded": [], "paths": {"g1": ["a", "b", "a"], "g2": ["b", "a"]}, "enable_migration": {"g1": [False, True]}},
    ),
    (
        "without preparation a destination that lacks the mdev does not count",
        {**SWAP, "c": lpar()},
        {"hosts": ["a", "b"], "prepare": False},
        {"stranded": ["g1", "g2"], "unavailable": {"g1": {"needs_preparation": 2}}},
    ),
]


@pytest.mark.parametrize(("name", "fleet", "options", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rolling_plan(facts, name, fleet, options, expected):
    plan = rolling_plan(facts(fleet), **options)
    stranded = {s["guest"]: s for s in plan["stranded"]}
    assert sorted(stranded) == sorted(expected["stranded"]), plan["verdict"]
    assert plan["feasible"] is (not expected["stranded"])
    if "paths" in expected:
        assert {g: p for g, p in paths(plan).items() if g in expected["paths"]} == expected["paths"]
    if "batches" in expected:
        assert [b["hosts"] for b in plan["batches"]] == expected["batches"]
    if "order" in expected:
        assert plan["order"] == expected["order"]
    if "unavoidable" in expected:
        assert sorted(s["guest"] for s in plan["unavoidable"]) == sorted(expected["unavoidable"])
    for g, counts in expected.get("unavailable", {}).items():
        assert stranded[g]["unavailable"] == counts
    for g, counts in expected.get("blockers", {}).items():
        assert stranded[g]["blockers"] == counts
    for g, flags in expected.get("enable_migration", {}).items():
        assert [m["enable_migration"] for b in plan["batches"] for m in b["moves"] if m["guest"] == g] == flags
    summary = plan["summary"]
    assert summary["moves"] == sum(len(p) - 1 for p in paths(plan).values())
    assert summary["moved_again"] == sum(1 for p in paths(plan).values() if len(p) > 2)


def test_every_move_goes_to_a_host_outside_its_batch_in_preference_order(facts):
    plan = rolling_plan(facts({**SWAP, "c": lpar(), "d": lpar(guest("g4", 4, 2, 6))}), hosts=["a", "b", "d"], batch_size=2)
    done: set[str] = set()
    for batch in plan["batches"]:
        for move in batch["moves"]:
            assert move["to"] not in batch["hosts"]
            expected = "outside" if move["to"] not in plan["hosts"] else "maintained" if move["to"] in done else "later"
            assert move["tier"] == expected
        done |= set(batch["hosts"])


def test_first_moves_are_what_migration_check_says(demo_facts):
    """Every planned move from a guest's home is a destination migration_check finds ready (or ready after preparation)."""
    plan = rolling_plan(demo_facts, hosts=sorted(demo_facts))
    checked = 0
    for batch in plan["batches"]:
        for move in batch["moves"]:
            first = next(g for g in plan["guests"] if g["uuid"] == move["uuid"])["moves"][0]
            if first["batch"] != move["batch"]:
                continue
            check = migration_check(
                demo_facts[move["from"]], demo_facts[move["to"]], move["uuid"], source=move["from"], destination=move["to"]
            )
            assert check["ready"] or check["ready_after"], check["blockers"]
            assert move["prepare"] is (not check["ready"])
            home = {m["uuid"]: m for m in demo_facts[move["from"]]["driver"]["mdevs"]}
            assert home[move["uuid"]]["guest"] == move["guest"]
            checked += 1
    assert checked >= 4


def test_demo_fleet(demo_facts):
    """The demo fleet rolled host by host: web1 and hsm1 go to kvm-b1 and come back; the rest as the fleet file notes."""
    plan = rolling_plan(demo_facts, hosts=sorted(demo_facts))
    assert paths(plan)["web1"] == ["kvm-a1", "kvm-b1", "kvm-a1"] and paths(plan)["mq1"] == ["kvm-b1", "kvm-a1"]
    assert paths(plan)["v1ok"] == ["kvm-b2", "kvm-a2"]
    stranded = {s["guest"]: set(s["blockers"]) | {b["code"] for b in s["source_blockers"]} for s in plan["stranded"]}
    assert stranded == {
        "db1": {"hw_type_older"}, "batch1": {"apqn_in_use", "hw_facility_mismatch"}, "ctl1": {"hw_class_incompatible"},
        "web3": {"queue_unusable"}, "app2": {"control_domain_unavailable"}, "ep2": {"hw_mode_mismatch", "hw_facility_mismatch"},
        "legacy3": {"no_migration_support", "apqn_not_installed", "control_domain_unavailable"}, "sec1": {"secure_execution"},
        "ai1": {"hw_facility_mismatch"}, "v1app": {"migration_disabled"},
        "db3": {"no_migration_support", "apqn_not_installed", "control_domain_unavailable"},
    }  # fmt: skip
    assert [s["guest"] for s in plan["unavoidable"]] == [s["guest"] for s in plan["stranded"]]
    assert "11 of 15" in plan["verdict"] and "every order tried" in plan["verdict"]
    enabled = rolling_plan(demo_facts, hosts=sorted(demo_facts), enable_migration=True)
    assert paths(enabled)["v1app"] == ["kvm-b2", "kvm-a2"]


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory, demo_fleet_path):
    return facts_for_fleet(demo_fleet_path, tmp_path_factory.mktemp("rolling-demo"))


def test_deterministic_whatever_the_input_order(demo_facts):
    """The same fleet in another dict order, and the hosts named in another order, give the same planned plan."""
    hosts = sorted(demo_facts)
    first = rolling_plan(demo_facts, hosts=hosts, batch_size=2)
    shuffled = list(demo_facts.items())
    random.Random(7).shuffle(shuffled)
    again = rolling_plan(dict(shuffled), hosts=hosts, batch_size=2)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)


def test_hostvars_with_hosts_without_facts(demo_facts):
    """hostvars-like input: hosts without AP facts are never destinations and are listed as not audited."""
    hostvars = {name: {"ansible_facts": {"vfio_ap": f}} for name, f in demo_facts.items()}
    hostvars["localhost"] = {"ansible_connection": "local"}
    hostvars["kvm-x9"] = {"ansible_facts": {}}
    plan = rolling_plan(hostvars, hosts="kvm-a1 kvm-b1")
    assert plan["not_audited"] == ["kvm-x9", "localhost"]
    assert "kvm-x9" not in plan["destinations"]
    assert paths(plan)["web1"][1] == "kvm-b1"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({}, "hosts: the hosts to maintain are required"),
        ({"hosts": []}, "hosts: expected at least one host to maintain"),
        ({"hosts": ["kvm-a1", "nohost"]}, "hosts: nohost not in facts_by_host"),
        ({"hosts": "kvm-a1", "batch_size": 0}, "batch_size: expected an integer >= 1, got 0"),
        ({"hosts": "kvm-a1", "batch_size": "two"}, "batch_size: expected an integer >= 1, got 'two'"),
        ({"hosts": "kvm-a1", "order": "random"}, "order: expected one of planned, given"),
        ({"hosts": "kvm-a1", "avoid": ["kvm-zz"]}, "avoid: kvm-zz not in facts_by_host"),
        ({"hosts": "kvm-a1", "rules": "loose"}, "rules: expected one of auto"),
        ({"hosts": "kvm-a1", "prepare": "maybe"}, "prepare"),
        ({"hosts": {"kvm-a1": 1}}, "hosts: expected a list of names"),
    ],
)
def test_bad_input_is_one_message(demo_facts, options, words):
    with pytest.raises(AnsibleFilterError) as caught:
        rolling_plan(demo_facts, **options)
    assert str(caught.value).startswith("s390x.vfio_ap.rolling_plan: ") and words in str(caught.value)


def test_a_host_to_maintain_without_facts_is_refused(demo_facts):
    hostvars = {name: {"ansible_facts": {"vfio_ap": f}} for name, f in demo_facts.items()}
    hostvars["kvm-x9"] = {"ansible_facts": {}}
    with pytest.raises(AnsibleFilterError, match="hosts: kvm-x9 has no vfio_ap facts .* cannot be planned"):
        rolling_plan(hostvars, hosts=["kvm-a1", "kvm-x9"])


def test_garbage_facts_are_refused_not_planned(demo_facts):
    broken = copy.deepcopy(demo_facts)
    broken["kvm-b1"]["queues"] = "lots"
    with pytest.raises(AnsibleFilterError, match="kvm-b1"):
        rolling_plan(broken, hosts=["kvm-a1"])


def test_maintained_hosts_are_final_destinations_after_those_not_due(facts):
    """What is left of a rolling maintenance, planned with the hosts maintained already (as a rolling run plans its next batch)."""
    fleet = {**SWAP, "c": lpar(), "d": lpar()}
    plan = rolling_plan(facts(fleet), hosts=["a", "b"], maintained=["c"], avoid=["d"])
    assert plan["maintained"] == ["c"]
    moves = {m["guest"]: (m["to"], m["tier"]) for b in plan["batches"] for m in b["moves"]}
    assert moves["g1"] == ("c", "maintained")  # before: a and b go down first, c is maintained, d avoided
    assert moves["g2"][1] == "maintained" and moves["g2"][0] in ("a", "c")
    # a host not due for maintenance comes first, a maintained one second
    plan = rolling_plan(facts(fleet), hosts=["a", "b"], maintained="c")
    assert {m["tier"] for b in plan["batches"] for m in b["moves"]} == {"outside"}
    assert {m["to"] for b in plan["batches"] for m in b["moves"]} == {"d"}
    with pytest.raises(AnsibleFilterError, match="maintained: zz not in facts_by_host"):
        rolling_plan(facts(fleet), hosts=["a"], maintained=["zz"])
