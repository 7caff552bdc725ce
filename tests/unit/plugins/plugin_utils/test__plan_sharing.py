"""The plan engine's shortcuts give the plan evaluating every guest on its own would give.

migration_plan shares one evaluation between the guests the rules cannot tell apart (``shared_class``),
reads a host's queues through their traits (``HostFacts.traits``, per kind of card and driver) and
shares equal parts between entries. A faster wrong plan is worthless: over fleets of shaped hosts
with seeded damage on some of them (``helpers.plan_fleets.mutated_facts``: gaps, twins, masks,
levels, mdevs, definitions, guards, queue records, cards) and every option set that changes how a
guest is planned, the plan must be the one of the engine with the shortcut turned off.
"""

from __future__ import annotations

import copy
import json

import pytest
from apsim.generate import HostShape, shaped_fleet
from helpers.fleet_facts import facts_for_fleet
from helpers.plan_fleets import mutated_facts

from ansible_collections.s390x.vfio_ap.plugins.module_utils._queue_facts import expand_queue
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _migration_plan as P

# (shape, hosts, seed): fleets of hosts small enough to gather quickly, in few classes (guests alike on many
# hosts), one with guests on two adapters each; each with damage somewhere
SHAPES = {
    "one-adapter": HostShape(cards=4, domains=4, mdevs=4, spread=3),
    "two-adapters": HostShape(cards=8, domains=6, mdevs=5, spread=3, guest_adapters=2),
    "wide": HostShape(cards=8, domains=12, mdevs=8, spread=2, card_type="CEX8P"),
}
FLEETS = [("one-adapter", 40, 1), ("two-adapters", 30, 2), ("wide", 24, 3)]
OPTIONS = [{}, {"rules": "attribute"}, {"rules": "strict", "limit": 1, "nearest": 0}, {"limit": 3, "nearest": 8}]


@pytest.fixture(scope="module", params=FLEETS, ids=[f"{s}-{n}-seed{seed}" for s, n, seed in FLEETS])
def fleet(request, tmp_path_factory):
    shape, hosts, seed = request.param
    facts = facts_for_fleet(shaped_fleet(hosts, SHAPES[shape]), tmp_path_factory.mktemp(f"sharing-{shape}"))
    return mutated_facts(facts, seed)


def _exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the shared evaluations off: every guest evaluated on its own."""
    monkeypatch.setattr(P._Planner, "shared_class", lambda self, *args: None)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults")
def test_shared_evaluations_give_the_plan_of_one_evaluation_per_guest(fleet, options, monkeypatch):
    names = sorted(fleet)
    sources = names[::3]
    for kwargs in (options, {**options, "sources": sources, "destinations": names[1:]}):
        shared = P.build_plan(copy.deepcopy(fleet), **kwargs)
        with monkeypatch.context() as patch:
            _exact(patch)
            alone = P.build_plan(copy.deepcopy(fleet), **kwargs)
        assert json.dumps(shared) == json.dumps(alone)


def test_the_shortcut_is_taken(fleet):
    """The fleets do exercise the shared evaluations (not only guests evaluated on their own)."""
    planner = P._Planner(fleet, None, None, "auto", None, None, None, False, None, None)
    planner.plan()
    assert planner.classes and all(isinstance(found, P._SharedClass) for found in planner.classes.values())


def test_traits_are_those_of_the_full_records(fleet):
    """A queue's traits, computed once per kind of card and driver, are those of its full record, on every host."""
    for name, facts in fleet.items():
        host = H.HostFacts(facts, name)
        cards = {c["id"]: c for c in facts["cards"]}
        records = {q["apqn"]: q for q in facts["queues"]}  # the last record of an APQN counts
        wanted = {q["apqn"] for q in facts["queues"][::7]}
        selected = dict(host.selected_traits(wanted))
        assert set(selected) == wanted
        for apqn in sorted(wanted):
            record = records[apqn]
            expected = H.queue_traits(host, expand_queue(record, cards.get(int(apqn[:2], 16))))
            assert selected[apqn] is expected and host.traits(apqn) is expected, (name, apqn)
        assert host.traits("ff.00ff") is None


def test_a_plan_shares_equal_parts_and_reads_as_json(fleet):
    """Entries share equal lists and dicts (read-only data): the JSON is the same as of unshared copies."""
    plan = P.build_plan(fleet)
    assert json.loads(json.dumps(plan)) == plan
    apqns = {}
    for entry in plan["guests"]:
        apqns.setdefault(tuple(entry["apqns"]), []).append(id(entry["apqns"]))
    assert any(len(set(ids)) < len(ids) for ids in apqns.values())
