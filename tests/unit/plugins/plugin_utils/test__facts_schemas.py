"""Facts of schema 1 (full queue records, what a fact cache filled by 0.1.0 holds) and schema 2 (compact)
give the same readiness decisions; the ap_queues filter gives the full records back; unknown schemas are refused.

Facts of 0.1.0 do not say what could not be read, so their hosts are not fully audited (a verdict from
them could rest on a libvirt directory nobody could read): the same decisions as schema-2 facts that
do not say it either, and the fix is to gather again."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from helpers.fleet_facts import as_schema_1, facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter.ap_queues import ap_queues
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_check import migration_check
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_plan import migration_plan

FLEETS = Path(__file__).resolve().parents[3] / "fleets"


@pytest.fixture(scope="module", params=["demo.yml", "old-kernels.yml"])
def fleet_facts(request, tmp_path_factory):
    return facts_for_fleet(FLEETS / request.param, tmp_path_factory.mktemp("schemas"))


def _mixed(facts_by_host):
    """Every other host (by name) in schema 1: a fact cache half refreshed."""
    return {name: as_schema_1(facts) if i % 2 else facts for i, (name, facts) in enumerate(sorted(facts_by_host.items()))}


def _unsaid(facts):
    """Schema-2 facts that, like schema 1, do not say what could not be read."""
    return {k: v for k, v in facts.items() if k not in ("complete", "unread", "unread_count")}


def _unsaid_as(converted, facts_by_host):
    """The schema-2 facts, without completeness wherever the converted facts are schema 1."""
    return {h: _unsaid(f) if converted[h]["schema"] == 1 else f for h, f in facts_by_host.items()}


@pytest.mark.parametrize("convert", [lambda f: {h: as_schema_1(x) for h, x in f.items()}, _mixed], ids=["schema-1", "mixed"])
def test_the_plan_is_the_same_from_either_schema(fleet_facts, convert):
    assert all(f["schema"] == 2 for f in fleet_facts.values())
    converted = convert(fleet_facts)
    assert migration_plan(converted, detail=True) == migration_plan(_unsaid_as(converted, fleet_facts), detail=True)


def test_schema_1_hosts_are_not_fully_audited(fleet_facts):
    """A fact cache of 0.1.0 never turns into "can leave": its hosts say to gather again."""
    plan = migration_plan(_mixed(fleet_facts))
    old = sorted(fleet_facts)[1::2]
    assert sorted(plan["facts_gaps"]) == old
    for host in old:
        verdict = plan["summary"]["hosts"].get(host)
        if verdict is not None:
            assert verdict["audited"] is False and not verdict["evacuable"]
            assert "gather the facts again with this version of s390x.vfio_ap" in verdict["verdict"]
    for guest in plan["guests"]:
        assert guest["verdict"] != "ready" or (guest["source"] not in old and set(guest["ready"]["hosts"]).isdisjoint(old))


def test_every_pair_check_is_the_same_from_either_schema(fleet_facts):
    plan = migration_plan(fleet_facts)
    checked = 0
    for entry in plan["guests"]:
        for destination in plan["destinations"]:
            if destination == entry["source"]:
                continue
            old = migration_check(as_schema_1(fleet_facts[entry["source"]]), as_schema_1(fleet_facts[destination]), entry["uuid"])
            new = migration_check(_unsaid(fleet_facts[entry["source"]]), _unsaid(fleet_facts[destination]), entry["uuid"])
            assert old == new, (entry["uuid"], destination)
            checked += 1
    assert checked > 10


def test_ap_queues_gives_the_full_records_back(fleet_facts):
    for facts in fleet_facts.values():
        full = ap_queues(facts)
        assert full == as_schema_1(facts)["queues"]
        assert ap_queues(as_schema_1(facts)) == full


def test_ap_queues_selects_apqns_in_their_order(fleet_facts):
    facts = next(f for f in fleet_facts.values() if len(f["queues"]) > 3)
    first, second = facts["queues"][2]["apqn"], facts["queues"][0]["apqn"]
    got = ap_queues(facts, [first.upper(), second, "fe.00fe"])
    assert [q["apqn"] for q in got] == [first, second]  # the missing APQN is left out
    assert got[0]["adapter"] == int(first[:2], 16) and got[0]["domain"] == int(first[3:], 16)


@pytest.mark.parametrize(
    ("change", "apqns", "message"),
    [
        (
            lambda f: f.update(schema=3),
            None,
            "schema: facts of schema 3 were gathered by another version of s390x.vfio_ap; this one reads schema 1 and 2",
        ),
        (lambda f: f.update(schema="2"), None, "schema: facts of schema '2'"),
        (lambda f: f.update(queues={"05.0004": {}}), None, "queues: expected a list"),
        (lambda f: f["queues"][0].update(functions=7), None, r"queue [0-9a-f.]+\.functions: expected the ap_functions text"),
        (lambda f: f["cards"][0].update(capabilities="cca"), None, r"cards\[0\]\.capabilities: expected a dict or null"),
        (lambda f: None, ["5.4"], r"apqns: APQN '5.4' is not of the form AA.DDDD"),
        (lambda f: None, "05.0004", "apqns: expected a list of APQNs"),
    ],
    ids=["newer-schema", "schema-text", "queues-dict", "queue-functions", "card-capabilities", "bad-apqn", "apqns-text"],
)
def test_bad_facts_or_apqns_get_one_message(fleet_facts, change, apqns, message):
    facts = copy.deepcopy(next(f for f in fleet_facts.values() if f["queues"] and f["cards"]))
    change(facts)
    with pytest.raises(AnsibleFilterError, match="s390x.vfio_ap.ap_queues: facts: " + message if "apqns" not in message else message):
        ap_queues(facts, apqns)


def test_the_engine_refuses_an_unknown_schema(fleet_facts):
    facts = copy.deepcopy(fleet_facts)
    name = sorted(facts)[0]
    facts[name]["schema"] = 9
    with pytest.raises(AnsibleFilterError, match=rf"facts_by_host\['{name}'\]: schema: facts of schema 9"):
        migration_plan(facts)
