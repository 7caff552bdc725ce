"""_drain_document: the evacuation plan with what happened to each guest (evacuation.json), on the demo fleet."""

from __future__ import annotations

import json

import pytest
from helpers.drain_cases import DEMO, HSM1, WEB1, host, mdev, planned_drain
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document, drain_summary
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import render_files
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    return planned_drain(facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo")))


def outcome(result, destination=None, **more):
    return {"result": result, "stage": None, "codes": [], "message": "", "duration": 0.5, "prepared": False, "rerouted": False,
            "kernel": [], "actual_destination": destination, **more}  # fmt: skip


def test_drain_document_and_files(planned):
    _plan, evacuation = planned
    outcomes = {
        HSM1: outcome("failed", stage="migrate", codes=["hook_refused"], message="no <today>", duration=1.5, prepared=True),
        WEB1: outcome("moved", "kvm-b1"),
    }
    facts_after = {"kvm-a1": host(mdev(HSM1, True, ["02.0003"]))}
    facts_after["kvm-a1"]["driver"]["mdevs"][0]["guest"] = "hsm1"
    doc = drain_document(evacuation, Progress("execute", outcomes=outcomes), facts_after)
    got = {g["guest"]: g["result"] for g in doc["guests"]}
    assert got["web1"] == "moved" and got["hsm1"] == "failed" and got["db1"] == "stranded"
    assert doc["host_status"] == {"kvm-a1": {"empty": False, "running": ["hsm1"]}}
    assert doc["outcome"].startswith("1 of 6 vfio-ap guests of kvm-a1 left (1 failed, 4 stranded)")
    files = render_files(doc)
    assert json.loads(files["evacuation.json"]) == doc
    assert "no &lt;today&gt;" in files["evacuation.html"] and "<today>" not in files["evacuation.html"]
    assert '<failure type="failed" message="hook_refused — no &lt;today&gt;">' in files["evacuation.xml"]
    assert "| web1 | kvm-a1 | kvm-b1 | kvm-b1 | moved | 0.5 s |" in files["evacuation.md"]
    summary = drain_summary(doc, "/r")
    assert summary["moved"] == ["web1"] and summary["empty"] == {"kvm-a1": False} and summary["failed"][0]["codes"] == ["hook_refused"]


@pytest.mark.parametrize(
    "mode, prepare, web1, hsm1",
    [
        ("plan", True, "planned", "planned"),
        ("plan", False, "planned", "needs_preparation"),
        ("check", True, "not_attempted", "not_attempted"),
    ],
)
def test_drain_document_modes(planned, mode, prepare, web1, hsm1):
    plan, _evacuation = planned
    evacuation = evacuation_plan(plan, prepare=prepare)
    doc = drain_document(evacuation, Progress(mode), {})
    got = {g["guest"]: g["result"] for g in doc["guests"]}
    assert (got["web1"], got["hsm1"], got["db1"]) == (web1, hsm1, "stranded")
    assert doc["host_status"]["kvm-a1"]["empty"] is None


@pytest.mark.parametrize(("args", "message"), [(("later",), "^mode: expected one of plan, check, execute, got 'later'$")])
def test_progress_refuses_an_unknown_mode(args, message):
    with pytest.raises(ValueError, match=message):
        Progress(*args)


def test_the_document_written_when_a_drain_starts(planned):
    plan, evacuation = planned
    started = drain_document(evacuation, Progress("execute", started=True), {}, plan)
    assert {g["result"] for g in started["guests"] if g["destination"]} == {"pending"} and not started["finished"]
    assert not started["all_empty"] and "interrupted" in started["outcome"]
    later = {**evacuation, "guests": [g for g in evacuation["guests"] if g["uuid"] != WEB1]}
    resumed = ({"uuid": WEB1, "guest": "web1", "source": "kvm-a1", "destination": "kvm-b1"},)
    again = drain_document(later, Progress("execute", started=True, resumed=resumed), {}, plan)
    assert any(g["uuid"] == WEB1 and g["result"] == "pending" and g["status"] == "resumed" for g in again["guests"])


def test_an_earlier_runs_guest_found_moved_gets_a_row(planned):
    _plan, evacuation = planned
    later = {**evacuation, "guests": [g for g in evacuation["guests"] if g["uuid"] != WEB1]}
    moved = outcome("already_moved", "kvm-b1", guest="web1", source="kvm-a1", cleaned=["active mdev removed"])
    doc = drain_document(later, Progress("execute", outcomes={WEB1: moved}), {"kvm-a1": host()})
    row = next(g for g in doc["guests"] if g["uuid"] == WEB1)
    assert (row["result"], row["status"], row["cleaned"]) == ("already_moved", "resumed", ["active mdev removed"])
    assert "source mdev: active mdev removed" in render_files(doc)["evacuation.md"]


def test_stranded_codes_come_from_the_plan(planned):
    plan, evacuation = planned
    with_plan = {g["guest"]: g["codes"] for g in drain_document(evacuation, Progress("plan"), {}, plan)["guests"]}
    assert with_plan["db1"] == ["hw_type_older"] and with_plan["web3"] == ["queue_unusable"]
    assert with_plan["batch1"] == ["apqn_in_use", "hw_facility_mismatch"] and with_plan["ctl1"] == ["hw_class_incompatible"]
    without = {g["guest"]: g["codes"] for g in drain_document(evacuation, Progress("plan"), {})["guests"]}
    assert "hw_type_older" in without["db1"] and len(without["db1"]) > 1


def test_a_stopped_run_says_so(planned):
    _plan, evacuation = planned
    outcomes = {WEB1: outcome("failed", stage="migrate", codes=["migration_refused"])}
    doc = drain_document(evacuation, Progress("execute", outcomes=outcomes, stopped=True), {"kvm-a1": host()})
    got = {g["guest"]: (g["result"], g["codes"]) for g in doc["guests"]}
    assert got["hsm1"] == ("not_attempted", ["not_attempted"]) and doc["stopped"] is True
    assert "(1 failed, 1 not attempted" in doc["outcome"] and doc["all_empty"] is False
