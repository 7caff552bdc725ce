"""A rolling maintenance run's state and decisions (_rolling_run), without Ansible.

The state is what a stopped run is taken up from: every step done is kept, a run of other hosts is
never taken up, a damaged file is one clear error. The decisions (each batch's drain, who starts
again, who comes back, where migration is disabled again) are checked on fleets rendered from
fleet data and gathered like real hosts.
"""

from __future__ import annotations

import copy
import json

import pytest
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _rolling_run as R
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling import rolling_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling_run_report import files, render

CARDS = [{"id": 1, "type": "CEX8C", "domains": "0-15"}, {"id": 2, "type": "CEX8C", "domains": "0-15"}]


def lpar(*guests: dict, migration: str = "kernel") -> dict:
    return {"migration": migration, "usage_domains": "0-15", "control_domains": "0-15", "aqmask": "0-3,16-255",
            "cards": CARDS, "mdevs": list(guests)}  # fmt: skip


def guest(name: str, n: int, adapter: int, domain: int, **extra) -> dict:
    return {"uuid": f"93000000-0000-4000-8000-0000000000{n:02d}", "adapters": [adapter], "domains": [domain],
            "control_domains": [domain], "guest": name, "start": "auto", **extra}  # fmt: skip


FLEET = {"a": lpar(guest("g1", 1, 1, 4)), "b": lpar(guest("g2", 2, 1, 5)), "c": lpar()}


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    return facts_for_fleet({"hosts": FLEET}, tmp_path_factory.mktemp("run"))


def request(**more) -> dict:
    return R.request_of({"hosts": ["a", "b"], **more})


def started(facts, **more) -> dict:
    req = request(**more)
    plan = rolling_plan(facts, req["hosts"], avoid=req["avoid"], prepare=req["prepare"])
    return R.new_state(plan, req, facts, "t0")


def moved(facts: dict, uuid: str, source: str, destination: str) -> dict:
    """Return the facts after the guest using mdev uuid moved from source to destination (its mdev idle on the source)."""
    out = copy.deepcopy(facts)
    mdev = next(m for m in out[source]["driver"]["mdevs"] if m["uuid"] == uuid)
    out[destination]["driver"]["mdevs"].append({**copy.deepcopy(mdev)})
    mdev.update(in_use=False, guest=None)
    return out


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ({"hosts": []}, "vfio_ap_maintenance_hosts is empty"),
        ({"hosts": "a,a"}, "names a more than once"),
        ({"hosts": "a", "batch_size": 0}, "vfio_ap_maintenance_batch_size: expected an integer >= 1"),
        ({"hosts": "a", "order": "random"}, "vfio_ap_maintenance_order"),
        ({"hosts": "a", "return": "home"}, "vfio_ap_maintenance_return: expected one of none, original, rebalance"),
        ({"hosts": "a", "rules": "loose"}, "vfio_ap_maintenance_rules"),
        ({"hosts": "a", "reboot": "perhaps"}, "vfio_ap_maintenance_reboot"),
        ({"hosts": {"a": 1}}, "vfio_ap_maintenance_hosts: expected a list"),
    ],
)
def test_bad_inputs_are_one_message_naming_the_variable(inputs, words):
    with pytest.raises(ValueError, match=words):
        R.request_of(inputs)


def test_a_new_run_its_state_and_steps(facts):
    state = started(facts)
    assert [b["hosts"] for b in state["batches"]] == state["plan"]["batches"]
    assert state["homes"] == {
        "93000000-0000-4000-8000-000000000001": {"guest": "g1", "home": "a"},
        "93000000-0000-4000-8000-000000000002": {"guest": "g2", "home": "b"},
    }
    assert R.current(state) == 1
    state = R.record(state, 1, "start", now="t1")
    state = R.record(state, 1, "drain", {"drain": {"left": {"x": {"guest": "g1"}}}}, "t2")
    state = R.record(state, 1, "progress", {"migration": [{"host": "a", "uuid": "u"}]})
    state = R.record(state, 1, "progress", {"migration": [{"host": "a", "uuid": "u"}, {"host": "a", "uuid": "v"}]})
    batch = state["batches"][0]
    assert batch["done"] == ["drain"] and batch["started"] == "t1" and batch["finished"] is None
    assert [r["uuid"] for r in batch["migration"]] == ["u", "v"]  # records add up, each once
    for phase in reversed(R.PHASES):  # the order the steps are recorded in does not matter
        state = R.record(state, 1, phase)
    assert state["batches"][0]["done"] == list(R.PHASES) and R.current(state) == 2
    with pytest.raises(ValueError, match="phase"):
        R.record(state, 2, "dance")
    with pytest.raises(ValueError, match="batch: expected the index"):
        R.record(state, 9, "drain")
    with pytest.raises(ValueError, match="'hosts' is not something a batch records"):
        R.record(state, 2, "drain", {"hosts": ["x"]})
    for index in range(2, len(state["batches"]) + 1):
        for phase in R.PHASES:
            state = R.record(state, index, phase, now="t9")
    assert state["finished"] == "t9" and R.current(state) is None


def test_a_stopped_run_is_taken_up_by_the_same_hosts_only(facts):
    state = R.stop(R.record(started(facts), 1, "drain"), 1, "snapshot", "would not come back", "t3")
    text = R.state_text(state)
    again = R.resume(text, request(reboot_unpersisted=True))
    assert again is not None and again["stopped"] is None and again["batches"][0]["done"] == ["drain"]
    assert again["request"]["reboot_unpersisted"] is True  # the options of the command taking it up apply
    with pytest.raises(ValueError, match="unfinished rolling maintenance of a, b, not of a"):
        R.resume(text, R.request_of({"hosts": ["a"]}), "rolling-state.json")
    finished = json.loads(text)
    finished["finished"] = "t9"
    assert R.resume(json.dumps(finished), request()) is None  # a finished run: a new one starts
    assert R.resume("", request()) is None
    for damaged, words in [("{", "not JSON"), ("[]", "not the state"), (json.dumps({**state, "schema": 2}), "schema 2"),
                           (json.dumps({**state, "batches": [{"index": 3}]}), "batch 1 is damaged")]:  # fmt: skip
        with pytest.raises(ValueError, match=words):
            R.resume(damaged, request())


def test_each_batch_is_planned_with_the_facts_of_now(facts):
    state = started(facts)
    first = R.batch_plan(state, 1, facts, sorted(facts))
    approved = first["approved"]
    assert approved["schema"] == 1 and approved["hosts"] == state["batches"][0]["hosts"]
    assert {g["destination"] for g in approved["guests"]} == {"c"}  # not due for maintenance: first choice
    assert all(m["tier"] == "outside" for m in first["moves"])
    # c is avoided: the first batch's guest goes to the host due later, and back once that is maintained
    state = started(facts, avoid=["c"])
    host = state["batches"][0]["hosts"][0]
    other = "b" if host == "a" else "a"
    plan = R.batch_plan(state, 1, facts, sorted(facts))
    assert [(m["to"], m["tier"]) for m in plan["moves"]] == [(other, "later")]
    uuid = plan["moves"][0]["uuid"]
    after = moved(facts, uuid, host, other)
    for phase in R.PHASES:
        state = R.record(state, 1, phase)
    second = R.batch_plan(state, 2, after, sorted(after))
    assert {(m["guest"], m["to"], m["tier"]) for m in second["moves"]} >= {(plan["moves"][0]["guest"], host, "maintained")}


def test_drain_outcome_reads_the_drain_report():
    report = {"finished": True, "mode": "execute", "host_status": {"a": {"empty": False}}, "guests": [
        {"uuid": "u1", "guest": "g1", "source": "a", "result": "moved", "actual_destination": "c"},
        {"uuid": "u2", "guest": "g2", "source": "a", "result": "stranded", "codes": ["hw_type_older"]},
        {"uuid": "u3", "guest": "g3", "source": "a", "result": "failed", "codes": ["migration_refused"]},
        {"uuid": "u4", "guest": "g4", "source": "a", "result": "skipped"},
        {"uuid": "u5", "guest": "g5", "source": "z", "result": "moved"},
    ]}  # fmt: skip
    out = R.drain_outcome(json.dumps(report), ["a"])
    assert out["left"] == {"u1": {"guest": "g1", "from": "a", "to": "c"}}
    assert sorted(out["stayed"]) == ["u2", "u3"] and out["failed"] == ["g3"] and out["hosts"] == {"a": False}
    assert R.drain_outcome("{not json", ["a"])["finished"] is False
    assert R.drain_outcome(None, ["a"]) == R.drain_outcome("", ["a"])


def test_guests_that_stayed_start_again_unless_they_run_elsewhere(facts):
    state = R.record(started(facts), 1, "snapshot", {"stayed": {"a": ["g1", "gone"]}})
    stopped = copy.deepcopy(facts)
    for mdev in stopped["a"]["driver"]["mdevs"]:
        mdev.update(in_use=False, guest=None)
    assert R.restarts(state, 1, stopped) == {"start": {"a": ["g1", "gone"]}, "elsewhere": {}}
    elsewhere = moved(facts, "93000000-0000-4000-8000-000000000001", "a", "c")
    assert R.restarts(state, 1, elsewhere) == {"start": {"a": ["gone"]}, "elsewhere": {"g1": "c"}}


@pytest.mark.parametrize("mode", ["none", "original", "rebalance"])
def test_returns(facts, mode):
    state = started(facts, **{"return": mode})
    home = state["batches"][0]["hosts"][0]
    uuid = next(u for u, h in state["homes"].items() if h["home"] == home)
    after = moved(facts, uuid, home, "c")
    out = R.returns(state, 1, after)
    if mode == "none":
        assert out == {"approved": None, "moves": [], "staying": []}
        return
    if mode == "rebalance":  # one guest on c, none on the host back: even enough, nobody moves
        assert out["moves"] == []
        other = next(u for u in state["homes"] if u != uuid)
        after = moved(after, other, state["homes"][other]["home"], "c")  # c runs both now
        out = R.returns(state, 1, after)
        assert len(out["moves"]) == 1 and out["moves"][0]["from"] == "c" and out["moves"][0]["to"] == home
        return
    assert [(m["uuid"], m["from"], m["to"]) for m in out["moves"]] == [(uuid, "c", home)]
    assert out["approved"]["hosts"] == ["c"] and out["approved"]["guests"][0]["destination"] == home
    assert out["approved"]["guests"][0]["status"] == "ready"  # its own mdev is still on its home, idle


def test_migration_disabled_by_the_drain_is_disabled_again_where_it_was_and_where_the_guest_runs(tmp_path):
    fleet = {"a": lpar(guest("g1", 1, 1, 4, migratable=0), migration="attribute"), "c": lpar(migration="attribute")}
    facts = facts_for_fleet({"hosts": fleet}, tmp_path)
    assert R.migration_disabled(facts, ["a"]) == [
        {"host": "a", "uuid": "93000000-0000-4000-8000-000000000001", "guest": "g1", "reason": None}
    ]
    req = R.request_of({"hosts": ["a"], "enable_migration": True})
    state = R.new_state(rolling_plan(facts, ["a"], enable_migration=True), req, facts)
    state = R.record(state, 1, "progress", {"migration": R.migration_disabled(facts, ["a"])})
    after = moved(facts, "93000000-0000-4000-8000-000000000001", "a", "c")
    restore = R.restore_migration(state, 1, after)
    assert sorted(restore) == ["a", "c"] and restore["c"][0]["guest"] == "g1"


def test_run_reports_escape_what_hosts_report(facts):
    state = started(facts)
    state = R.record(
        state, 1, "drain", {"drain": {"left": {}, "stayed": {"u": {"guest": "<b>|x", "host": "a", "result": "stranded", "codes": []}}}}
    )
    state = R.stop(state, 1, "maintain", "failed: `rm -rf` <script>", "t")
    text = render(state, "markdown")
    assert "<b>" not in text and "&lt;b&gt;\\|x" in text and "<script>" not in text
    html = render(state, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<failure" in render(state, "junit")
    out = files(state, 1)
    assert sorted(out) == sorted(
        [f"rolling-run.{e}" for e in ("json", "md", "html", "xml")] + [f"rolling-batch-1.{e}" for e in ("json", "md", "html")]
    )
    assert json.loads(out["rolling-run.json"])["summary"]["stopped"]["phase"] == "maintain"
