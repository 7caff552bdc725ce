"""_waves: the guests of an evacuation plan in waves, and the guests an interrupted drain brings back."""

from __future__ import annotations

import json

import pytest
from helpers.drain_cases import DEMO, WEB1, entry, planned_drain
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._waves import order_waves, resume_entries


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    return planned_drain(facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo")))


WAVES = {
    # (guests as (uuid suffix, source, destination, status), per_source, per_destination, prepare) -> waves of suffixes, held
    "one at a time": ([("01", "a", "x", "ready"), ("02", "a", "y", "ready")], 1, 1, False, [["01"], ["02"]], {}),
    "two sources in parallel": ([("01", "a", "x", "ready"), ("02", "b", "y", "ready")], 1, 1, False, [["01", "02"]], {}),
    "same destination waits": ([("01", "a", "x", "ready"), ("02", "b", "x", "ready")], 1, 1, False, [["01"], ["02"]], {}),
    "two per source": ([("01", "a", "x", "ready"), ("02", "a", "y", "ready"), ("03", "a", "z", "ready")], 2, 1, False,
                       [["01", "02"], ["03"]], {}),
    "order kept": ([("01", "a", "x", "ready"), ("02", "a", "y", "ready"), ("03", "b", "z", "ready")], 1, 1, False,
                   [["01"], ["02", "03"]], {}),
    "held": ([("01", "a", None, "stranded"), ("02", "a", "x", "prepare")], 1, 1, False, [], {"01": "stranded", "02": "needs_preparation"}),
    "skipped": ([("01", "a", "x", "skipped"), ("02", "a", "x", "ready")], 1, 1, False, [["02"]], {"01": "skipped"}),
    "prepare allowed": ([("02", "a", "x", "prepare")], 1, 1, True, [["02"]], {}),
}  # fmt: skip


@pytest.mark.parametrize("guests, per_source, per_destination, prepare, waves, held", list(WAVES.values()), ids=list(WAVES))
def test_order_waves(guests, per_source, per_destination, prepare, waves, held):
    evacuation = {"guests": [entry("6c1a0000-0000-4000-8000-0000000000" + s, src, dst, st) for s, src, dst, st in guests]}
    options = DrainOptions.of(per_source=per_source, per_destination=per_destination, prepare=prepare)
    got = order_waves(evacuation, None, options)
    assert [[g["uuid"][-2:] for g in w["guests"]] for w in got["waves"]] == waves
    assert {u[-2:]: r for u, r in got["held"].items()} == held
    assert [w["index"] for w in got["waves"]] == list(range(1, len(waves) + 1))
    for wave in got["waves"]:
        assert {g["source"] for g in wave["guests"]} <= set(wave["hosts"])


@pytest.mark.parametrize("bad", [None, [], {"guests": "x"}])
def test_order_waves_wants_an_evacuation_plan(bad):
    with pytest.raises(ValueError, match=r"^evacuation: expected an evacuation_plan result"):
        order_waves(bad, None, DrainOptions())


def test_candidates_put_the_planned_destination_first(planned):
    plan, evacuation = planned
    got = order_waves(evacuation, plan, DrainOptions.of(prepare=True))
    for guest in (g for w in got["waves"] for g in w["guests"]):
        assert guest["candidates"][0] == guest["destination"] and guest["source"] not in guest["candidates"]
        assert len(set(guest["candidates"])) == len(guest["candidates"])


def test_resume_entries_from_an_interrupted_run(planned):
    """The report a drain writes when it starts lists its guests; a rerun looks again for those its plan no longer has."""
    plan, evacuation = planned
    started = drain_document(evacuation, Progress("execute", started=True), {}, plan)
    later = {**evacuation, "guests": [g for g in evacuation["guests"] if g["uuid"] != WEB1]}
    resumed = resume_entries(started, later)
    assert [(e["uuid"], e["guest"], e["source"], e["resume"]) for e in resumed] == [(WEB1, "web1", "kvm-a1", True)]
    assert resume_entries(json.dumps(started), later) == resumed
    for other in ({**started, "hosts": ["kvm-a2"]}, "not json {", None, {"guests": "x"}, {**started, "guests": [None, 3, {"uuid": "x"}]},
                  "[" * 100000):  # fmt: skip
        assert resume_entries(other, later) == []
    upper = {**started, "guests": [{**g, "uuid": g["uuid"].upper()} for g in started["guests"]]}
    assert resume_entries(upper, later) == resumed
    assert len(resume_entries(started, later, limit=0)) == 0
    waves = order_waves(later, plan, DrainOptions.of(prepare=True), previous=started)
    first = waves["waves"][0]
    assert [g["uuid"] for g in first["guests"]] == [WEB1] and set(plan["destinations"]) <= set(first["hosts"])
    assert waves["resumed"] == resumed and "kvm-a1" in waves["sources"]
    assert [w["index"] for w in waves["waves"]] == list(range(1, len(waves["waves"]) + 1))
