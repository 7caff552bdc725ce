"""The drain's decisions (plugin_utils/_maintenance.py, _undo.py, _drain_report.py) on the demo fleet's facts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import MigrateCommand
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import drain_document, drain_summary, render_files
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._maintenance import (
    collect_host_results,
    execution_waves,
    just_in_time,
    resume_entries,
    seconds,
    undo_wanted,
    verify_move,
    wave_outcomes,
    wave_result,
)
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._undo import undo_actions

DEMO = Path(__file__).resolve().parents[3] / "fleets" / "demo.yml"
WEB1, HSM1 = "6c1a0000-0000-4000-8000-00000000a101", "6c1a0000-0000-4000-8000-00000000a103"


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    return facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def planned(facts):
    plan = build_plan(facts, sources=["kvm-a1"], destinations=sorted(set(facts) - {"kvm-a1"}), limit=10)
    return plan, evacuation_plan(plan, prepare=True)


def entry(uuid: str, source: str, destination: str | None, status: str = "ready") -> dict:
    return {"uuid": uuid, "guest": f"g{uuid[-2:]}", "source": source, "destination": destination, "status": status, "apqns": []}


WAVES = {
    # (guests as (uuid suffix, source, destination, status), per_source, per_destination, prepare) -> waves of suffixes, held
    "one at a time": ([("01", "a", "x", "ready"), ("02", "a", "y", "ready")], 1, 1, False, [["01"], ["02"]], {}),
    "two sources in parallel": ([("01", "a", "x", "ready"), ("02", "b", "y", "ready")], 1, 1, False, [["01", "02"]], {}),
    "same destination waits": ([("01", "a", "x", "ready"), ("02", "b", "x", "ready")], 1, 1, False, [["01"], ["02"]], {}),
    "two per source": (
        [("01", "a", "x", "ready"), ("02", "a", "y", "ready"), ("03", "a", "z", "ready")],
        2,
        1,
        False,
        [["01", "02"], ["03"]],
        {},
    ),
    "order kept": (
        [("01", "a", "x", "ready"), ("02", "a", "y", "ready"), ("03", "b", "z", "ready")],
        1,
        1,
        False,
        [["01"], ["02", "03"]],
        {},
    ),
    "held": ([("01", "a", None, "stranded"), ("02", "a", "x", "prepare")], 1, 1, False, [], {"01": "stranded", "02": "needs_preparation"}),
    "prepare allowed": ([("02", "a", "x", "prepare")], 1, 1, True, [["02"]], {}),
}


@pytest.mark.parametrize("guests, per_source, per_destination, prepare, waves, held", list(WAVES.values()), ids=list(WAVES))
def test_execution_waves(guests, per_source, per_destination, prepare, waves, held):
    evacuation = {"guests": [entry("6c1a0000-0000-4000-8000-0000000000" + s, src, dst, st) for s, src, dst, st in guests]}
    got = execution_waves(evacuation, None, per_source, per_destination, prepare)
    assert [[g["uuid"][-2:] for g in w["guests"]] for w in got["waves"]] == waves
    assert {u[-2:]: r for u, r in got["held"].items()} == held
    for wave in got["waves"]:
        assert {g["source"] for g in wave["guests"]} <= set(wave["hosts"])


@pytest.mark.parametrize("bad", [0, -1, "x", None])
def test_execution_waves_bad_limit(bad):
    with pytest.raises(ValueError, match="per_source"):
        execution_waves({"guests": []}, None, bad, 1)


def wave_of(planned, *uuids, prepare=True):
    plan, evacuation = planned
    waves = execution_waves({"guests": [g for g in evacuation["guests"] if g["uuid"] in uuids]}, plan, 2, 2, prepare)
    return [g for w in waves["waves"] for g in w["guests"]]


def test_just_in_time_as_planned(facts, planned):
    steps = just_in_time(wave_of(planned, WEB1, HSM1), facts, prepare=True, per_destination=2, how=MigrateCommand.of(timeout=60))
    actions = {s["guest"]: (s["action"], s["destination"], s["rerouted"]) for s in steps["guests"]}
    assert actions == {"web1": ("migrate", "kvm-b1", False), "hsm1": ("prepare", "kvm-b1", False)}
    assert steps["prepare"] == {"kvm-b1": [{"source": "kvm-a1", "uuid": HSM1}]}
    assert [m["guest"] for m in steps["migrate"]["kvm-a1"]] == ["web1", "hsm1"]
    assert steps["migrate"]["kvm-a1"][0]["argv"][-6:] == ["--timeout", "60", "--domain", "web1", "--desturi", "qemu+ssh://kvm-b1/system"]
    assert steps["watch"] == {"kvm-a1": ["hsm1", "web1"], "kvm-b1": ["hsm1", "web1"]} and steps["hosts"] == ["kvm-a1", "kvm-b1"]


def without_mdev(facts, host, uuid):
    changed = copy.deepcopy(facts)
    changed[host]["driver"]["mdevs"] = [m for m in changed[host]["driver"]["mdevs"] if m["uuid"] != uuid]
    return changed


JIT = {
    # facts change, prepare allowed -> (action, destination, codes)
    "landing mdev gone, prepare": (lambda f: without_mdev(f, "kvm-b1", WEB1), True, ("prepare", "kvm-b1", [])),
    "landing mdev gone, no prepare": (lambda f: without_mdev(f, "kvm-b1", WEB1), False, ("refuse", None, ["mdev_missing"])),
    "source mdev gone": (lambda f: without_mdev(f, "kvm-a1", WEB1), True, ("skip", None, ["mdev_gone"])),
}


@pytest.mark.parametrize("change, prepare, expected", list(JIT.values()), ids=list(JIT))
def test_just_in_time_sees_changes(facts, planned, change, prepare, expected):
    steps = just_in_time(wave_of(planned, WEB1), change(facts), prepare=prepare)
    step = steps["guests"][0]
    assert (step["action"], step["destination"], step["codes"]) == expected
    assert (step["action"] in ("migrate", "prepare")) == bool(steps["migrate"])


def test_just_in_time_guard_on_the_destination_refuses(facts, planned):
    changed = copy.deepcopy(facts)
    changed["kvm-b1"]["driver"]["migration_guard"] = {WEB1: {"migratable": False, "reason": "key change"}}
    step = just_in_time(wave_of(planned, WEB1), changed)["guests"][0]
    assert step["action"] == "refuse" and "migration_disabled" in step["codes"]


def test_just_in_time_already_moved(facts, planned):
    changed = copy.deepcopy(facts)
    src = next(m for m in changed["kvm-a1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    dst = next(m for m in changed["kvm-b1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    src["in_use"], dst["in_use"] = False, True
    step = just_in_time(wave_of(planned, WEB1), changed)["guests"][0]
    assert (step["action"], step["destination"]) == ("moved", "kvm-b1")
    changed["kvm-b1"]["driver"]["mdevs"].remove(dst)
    step = just_in_time(wave_of(planned, WEB1), changed)["guests"][0]
    assert (step["action"], step["codes"]) == ("skip", ["guest_not_running"])


def mdev(uuid, in_use, apqns):
    return {"uuid": uuid, "in_use": in_use, "guest_apqns": apqns}


def host(*mdevs):
    return {"driver": {"mdevs": list(mdevs)}}


VERIFY = {
    "moved": (
        host(mdev(WEB1, False, ["01.0004"])),
        host(mdev(WEB1, True, ["01.0004"])),
        "running\n\n",
        "error: failed to get domain 'web1'",
        [],
    ),
    "not running there": (host(), host(mdev(WEB1, True, ["01.0004"])), "shut off", "", ["says 'shut off'"]),
    "other APQNs": (host(), host(mdev(WEB1, True, ["01.0005"])), "running", "", ["gives the guest 01.0005"]),
    "idle there, still on the source": (
        host(mdev(WEB1, True, ["01.0004"])),
        host(mdev(WEB1, False, ["01.0004"])),
        "running",
        "running",
        ["not in use", "still runs on the source", "still in use"],
    ),
    "no mdev": (host(), host(), "running", "", ["has no mdev"]),
}


@pytest.mark.parametrize("src, dst, state, src_state, problems", list(VERIFY.values()), ids=list(VERIFY))
def test_verify_move(src, dst, state, src_state, problems):
    got = verify_move(WEB1, "web1", ["01.0004"], src, dst, state, src_state)
    assert len(got) == len(problems)
    for found, expected in zip(got, problems, strict=True):
        assert expected in found


@pytest.mark.parametrize(
    "delta, value", [("0:00:01.234567", 1.235), ("1:02:03.5", 3723.5), ("1 day, 0:00:00", 86400.0), (None, None), ("x", None)]
)
def test_seconds(delta, value):
    assert seconds(delta) == value


def steps_for(action="migrate"):
    return {
        "guests": [
            {
                "uuid": WEB1,
                "guest": "web1",
                "source": "kvm-a1",
                "planned": "kvm-b1",
                "destination": "kvm-b1",
                "action": action,
                "rerouted": False,
                "codes": [],
                "message": "",
                "argv": ["virsh"],
                "check": {"apqns": ["01.0004"]},
            }
        ],
        "hosts": ["kvm-a1", "kvm-b1"],
    }


def migrated(rc, stderr=""):
    return [{"ansible_loop_var": "it", "it": {"uuid": WEB1}, "rc": rc, "stderr": stderr, "delta": "0:00:02.000000"}]


OUTCOMES = {
    "moved": (
        "migrate",
        {
            "kvm-a1": {"migrated": migrated(0), "facts": host(mdev(WEB1, False, ["01.0004"])), "domstate": {}},
            "kvm-b1": {"facts": host(mdev(WEB1, True, ["01.0004"])), "domstate": {"web1": "running"}},
        },
        ("moved", None, [], 2.0),
    ),
    "kernel refusal": (
        "prepare",
        {
            "kvm-a1": {"migrated": migrated(1, "error: internal error: QEMU ... ret: -19")},
            "kvm-b1": {
                "kernel_log": (
                    f"Nov 30 10:14:14 kvm-b1 kernel: vfio_ap_mdev {WEB1}: Queue 01.0004 not available to vfio_ap driver on target host\n"
                )
            },
        },
        ("failed", "migrate", ["apqn_not_bound"], 2.0),
    ),
    "preparation failed": (
        "prepare",
        {"kvm-b1": {"prepare_errors": {WEB1: "kvm-b1 cannot be made ready"}}},
        ("failed", "prepare", ["preparation_failed"], None),
    ),
    "verification failed": (
        "migrate",
        {"kvm-a1": {"migrated": migrated(0)}, "kvm-b1": {"facts": host(), "domstate": {"web1": "shut off"}}},
        ("failed", "verify", ["verification_failed"], 2.0),
    ),
    "timeout": (
        "migrate",
        {
            "kvm-a1": {
                "migrated": [
                    {
                        "it": {"uuid": WEB1},
                        "ansible_loop_var": "it",
                        "failed": True,
                        "msg": "The command action failed to execute in the expected time frame (5) and was terminated; timed out",
                    }
                ]
            }
        },
        ("failed", "migrate", ["migration_timeout"], None),
    ),
    "refused before": ("refuse", {}, ("failed", "check", [], None)),
    "already moved": ("moved", {}, ("already_moved", None, [], None)),
}


@pytest.mark.parametrize("action, results, expected", list(OUTCOMES.values()), ids=list(OUTCOMES))
def test_wave_outcomes(action, results, expected):
    out = wave_outcomes(steps_for(action), results)[WEB1]
    assert (out["result"], out["stage"], out["codes"], out["duration"]) == expected
    undo = undo_wanted({WEB1: out}, keep=False)
    assert undo == ({"kvm-b1": [WEB1]} if action == "prepare" else {})
    assert undo_wanted({WEB1: out}, keep=True) == {}


def test_wave_outcomes_check_mode():
    assert wave_outcomes(steps_for("prepare"), {}, check_mode=True)[WEB1]["result"] == "would_move"


def test_collect_host_results():
    hostvars = {
        "kvm-a1": {
            "__vfio_ap_maintenance_migrated": {"results": migrated(0)},
            "__vfio_ap_maintenance_waited": {"skipped": True},
            "ansible_facts": {"vfio_ap": {"x": 1}},
            "__vfio_ap_maintenance_kernel_read": {"skipped": True},
            "__vfio_ap_maintenance_kernel_journal": {"stdout": "log"},
            "__vfio_ap_maintenance_domstate": {"results": [{"ansible_loop_var": "i", "i": "web1", "stdout": "running", "stderr": ""}]},
        },
    }
    got = collect_host_results(hostvars, ["kvm-a1", "kvm-zz"])
    assert got["kvm-a1"]["migrated"] == migrated(0) and got["kvm-a1"]["kernel_log"] == "log"
    assert got["kvm-a1"]["kernel_format"] == "journal"
    assert got["kvm-a1"]["domstate"] == {"web1": "running"} and got["kvm-a1"]["facts"] == {"x": 1}
    assert got["kvm-zz"] == {
        "prepare_errors": {},
        "undo": {},
        "migrated": [],
        "kernel_log": None,
        "kernel_format": "syslog",
        "facts": None,
        "domstate": {},
        "cleaned": [],
    }


UNDO = {
    "created with definition, reserved persistently": (
        [{"changed": True, "reserved": {"adapters": [], "domains": [3]}, "persisted_with": "file"}],
        [{"changed": True, "uuid": HSM1, "created": True, "before": None, "definition": {"before": None, "after": {"start": "auto"}}}],
        [
            {"type": "mdev", "uuid": HSM1, "state": "absent", "persistent": True},
            {"type": "ap_mask", "state": "released", "adapters": [], "domains": [3], "persistent": True, "remove_rule": False},
        ],
    ),
    "reserved persistently in a rule the run created: the rule goes again": (
        [
            {
                "changed": True,
                "reserved": {"adapters": [], "domains": [3]},
                "persisted_with": "file",
                "persistent": {"created": True, "removed": False},
            }
        ],
        [],
        [{"type": "ap_mask", "state": "released", "adapters": [], "domains": [3], "persistent": False, "remove_rule": True}],
    ),  # fmt: skip
    "reserved persistently through chzdev in a rule that existed": (
        [
            {
                "changed": True,
                "reserved": {"adapters": [7], "domains": []},
                "persisted_with": "chzdev",
                "persistent": {"created": False, "removed": False},
            }
        ],
        [],
        [{"type": "ap_mask", "state": "released", "adapters": [7], "domains": [], "persistent": True, "remove_rule": False}],
    ),  # fmt: skip
    "created, definition existed": (
        [],
        [{"changed": True, "uuid": HSM1, "created": True, "definition": {"before": {"start": "auto"}, "after": {"start": "auto"}}}],
        [{"type": "mdev", "uuid": HSM1, "state": "absent", "persistent": False}],
    ),
    "reconfigured": (
        [],
        [
            {
                "changed": True,
                "uuid": HSM1,
                "created": False,
                "before": {"adapters": [2], "domains": [], "control_domains": []},
                "definition": {"before": {"start": "manual"}, "after": {"start": "auto"}},
            }
        ],
        [
            {
                "type": "mdev",
                "uuid": HSM1,
                "state": "present",
                "force": False,
                "adapters": [2],
                "domains": [],
                "control_domains": [],
                "persistent": True,
                "start": "manual",
            }
        ],
    ),
    "unchanged, skipped, failed": (
        [{"changed": False, "reserved": {"domains": [3]}}, {"skipped": True}],
        [{"changed": True, "failed": True, "uuid": HSM1, "created": True}],
        [],
    ),
}


@pytest.mark.parametrize("ap_mask, mdevs, expected", list(UNDO.values()), ids=list(UNDO))
def test_undo_actions(ap_mask, mdevs, expected):
    assert undo_actions({"results": ap_mask}, mdevs) == expected


EARLIER = [{"type": "mdev", "uuid": HSM1, "state": "absent", "persistent": True},
           {"type": "ap_mask", "state": "released", "adapters": [], "domains": [3], "persistent": True, "remove_rule": False}]  # fmt: skip


@pytest.mark.parametrize(
    ("ap_mask", "mdevs", "expected"),
    [
        # a second run that changed nothing keeps what undoes the first
        ([{"changed": False}], [{"changed": False, "uuid": HSM1}], EARLIER),
        # a run that changed more: its actions first (newest first), the earlier ones after, none twice
        ([{"changed": True, "reserved": {"adapters": [], "domains": [4]}, "persisted_with": None}],
         [{"changed": True, "uuid": HSM1, "created": True, "definition": {"before": None, "after": {"start": "auto"}}}],
         [EARLIER[0], {"type": "ap_mask", "state": "released", "adapters": [], "domains": [4], "persistent": False, "remove_rule": False},
          EARLIER[1]]),
    ],
    ids=["nothing-new", "more-changes"],
)  # fmt: skip
def test_undo_actions_keep_an_earlier_preparations(ap_mask, mdevs, expected):
    assert undo_actions({"results": ap_mask}, mdevs, EARLIER) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", []), "registered module results"),
        (([], [], "x"), "earlier: expected the undo actions of an earlier preparation"),
        (([], [], [{"type": "virsh"}]), "earlier: expected the undo actions"),
    ],
)
def test_undo_actions_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        undo_actions(*args)


def test_drain_document_and_files(planned):
    _plan, evacuation = planned
    outcomes = {
        HSM1: {
            "result": "failed",
            "stage": "migrate",
            "codes": ["hook_refused"],
            "message": "no <today>",
            "duration": 1.5,
            "prepared": True,
            "rerouted": False,
            "kernel": [],
            "actual_destination": None,
        },
        WEB1: {
            "result": "moved",
            "stage": None,
            "codes": [],
            "message": "",
            "duration": 0.5,
            "prepared": False,
            "rerouted": False,
            "kernel": [],
            "actual_destination": "kvm-b1",
        },
    }
    facts_after = {"kvm-a1": host(mdev(HSM1, True, ["02.0003"]))}
    facts_after["kvm-a1"]["driver"]["mdevs"][0]["guest"] = "hsm1"
    doc = drain_document(evacuation, outcomes, {}, "execute", facts_after)
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
    doc = drain_document(evacuation, {}, {}, mode, {})
    got = {g["guest"]: g["result"] for g in doc["guests"]}
    assert (got["web1"], got["hsm1"], got["db1"]) == (web1, hsm1, "stranded")
    assert doc["host_status"]["kvm-a1"]["empty"] is None
    with pytest.raises(ValueError, match="mode"):
        drain_document(evacuation, {}, {}, "later", {})


def test_resume_entries_from_an_interrupted_run(planned):
    """The report a drain writes when it starts lists its guests; a rerun looks again for those its plan no longer has."""
    plan, evacuation = planned
    started = drain_document(evacuation, {}, {}, "execute", {}, plan=plan, started=True)
    assert {g["result"] for g in started["guests"] if g["destination"]} == {"pending"} and not started["finished"]
    assert not started["all_empty"] and "interrupted" in started["outcome"]
    later = {**evacuation, "guests": [g for g in evacuation["guests"] if g["uuid"] != WEB1]}
    resumed = resume_entries(started, later)
    assert [(e["uuid"], e["guest"], e["source"], e["resume"]) for e in resumed] == [(WEB1, "web1", "kvm-a1", True)]
    assert resume_entries(json.dumps(started), later) == resumed
    for other in ({**started, "hosts": ["kvm-a2"]}, "not json {", None, {"guests": "x"}, {**started, "guests": [None, 3, {"uuid": "x"}]}):
        assert resume_entries(other, later) == []
    waves = execution_waves(later, plan, 1, 1, True, previous=started)
    first = waves["waves"][0]
    assert [g["uuid"] for g in first["guests"]] == [WEB1] and set(plan["destinations"]) <= set(first["hosts"])
    assert waves["resumed"] == resumed and "kvm-a1" in waves["sources"]
    again = drain_document(later, {}, {}, "execute", {}, plan=plan, started=True, resumed=resumed)
    assert any(g["uuid"] == WEB1 and g["result"] == "pending" for g in again["guests"])


def moved_to_b1(facts):
    changed = copy.deepcopy(facts)
    src = next(m for m in changed["kvm-a1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    dst = next(m for m in changed["kvm-b1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    src["in_use"], dst["in_use"], src["guest"], dst["guest"] = False, True, None, "web1"
    return changed


def test_resumed_guest_is_reported_with_what_was_cleaned(facts, planned):
    """A guest an interrupted run moved: already_moved, and the source-mdev policy applied to it (issue 20, finding 5)."""
    plan, evacuation = planned
    later = {**evacuation, "guests": [g for g in evacuation["guests"] if g["uuid"] != WEB1]}
    started = drain_document(evacuation, {}, {}, "execute", {}, plan=plan, started=True)
    wave = execution_waves(later, plan, 1, 1, True, previous=started)["waves"][0]
    steps = just_in_time(wave["guests"], moved_to_b1(facts))
    assert [(s["action"], s["destination"], s["argv"]) for s in steps["guests"]] == [("moved", "kvm-b1", None)]
    assert steps["migrate"] == {}
    cleaned = {"results": [{"ansible_loop_var": "x", "x": {"uuid": WEB1}, "changed": True, "removed": True,
                            "definition": {"before": {"start": "auto"}, "after": None}}]}  # fmt: skip
    result = wave_result(steps, {"kvm-a1": {"cleaned": cleaned["results"]}})
    assert result["cleanup"] == {"kvm-a1": [{"uuid": WEB1, "guest": "web1"}]}
    out = result["outcomes"][WEB1]
    assert (out["result"], out["actual_destination"]) == ("already_moved", "kvm-b1")
    assert out["cleaned"] == ["active mdev removed", "mdevctl definition removed"]
    doc = drain_document(later, result["outcomes"], {}, "execute", {"kvm-a1": host()}, plan=plan)
    row = next(g for g in doc["guests"] if g["uuid"] == WEB1)
    assert row["result"] == "already_moved" and row["cleaned"] == out["cleaned"]
    assert "source mdev: active mdev removed, mdevctl definition removed" in render_files(doc)["evacuation.md"]
    # still on the source: a resumed guest is never migrated
    steps = just_in_time(wave["guests"], facts)
    assert steps["guests"][0]["action"] == "skip" and steps["migrate"] == {}


@pytest.mark.parametrize(
    "result, check_mode, cleaned",
    [
        ({"removed": True, "definition": {"before": None, "after": None}}, False, ["active mdev removed"]),
        ({"removed": True, "definition": {"before": {"start": "auto"}, "after": None}}, True,
         ["active mdev would be removed", "mdevctl definition would be removed"]),
        ({"removed": False, "definition": {"before": None, "after": None}}, False, ["nothing left to remove"]),
        ({"failed": True, "msg": "mdev is in use"}, False, ["removing the source mdev failed: mdev is in use"]),
    ],
)  # fmt: skip
def test_cleaned_says_what_was_removed(result, check_mode, cleaned):
    steps = steps_for("moved")
    results = {"kvm-a1": {"cleaned": [{"ansible_loop_var": "x", "x": {"uuid": WEB1}, **result}]}}
    assert wave_outcomes(steps, results, check_mode)[WEB1]["cleaned"] == cleaned


def test_just_in_time_takes_the_name_from_the_facts(facts, planned):
    """An entry that keeps web1's UUID but names db1 is refused: virsh would migrate db1 (issue 20, finding 2)."""
    (entry,) = wave_of(planned, WEB1)
    steps = just_in_time([{**entry, "guest": "db1"}], facts)
    step = steps["guests"][0]
    assert step["action"] == "refuse" and step["codes"] == ["migration_refused"] and "'db1'" in step["message"]
    assert steps["migrate"] == {}


def test_just_in_time_refuses_a_guest_on_two_hosts(facts, planned):
    changed = copy.deepcopy(facts)
    dst = next(m for m in changed["kvm-b1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    dst["in_use"], dst["guest"] = True, "web1"
    step = just_in_time(wave_of(planned, WEB1), changed)["guests"][0]
    assert step["action"] == "refuse" and "in use on kvm-a1, kvm-b1" in step["message"]


def test_drain_document_stranded_codes_from_the_plan(planned):
    plan, evacuation = planned
    with_plan = {g["guest"]: g["codes"] for g in drain_document(evacuation, {}, {}, "plan", {}, plan=plan)["guests"]}
    assert with_plan["db1"] == ["hw_type_older"] and with_plan["web3"] == ["queue_unusable"]
    assert with_plan["batch1"] == ["apqn_in_use", "hw_facility_mismatch"] and with_plan["ctl1"] == ["hw_class_incompatible"]
    without = {g["guest"]: g["codes"] for g in drain_document(evacuation, {}, {}, "plan", {})["guests"]}
    assert "hw_type_older" in without["db1"] and len(without["db1"]) > 1


@pytest.mark.parametrize("stage, undone", [("prepare", True), ("migrate", True), ("verify", False), ("check", False)])
def test_undo_wanted_only_when_the_guest_stayed(stage, undone):
    out = {"uuid": HSM1, "result": "failed", "stage": stage, "prepared": True, "tried_destination": "kvm-b1"}
    assert undo_wanted({HSM1: out}, keep=False) == ({"kvm-b1": [HSM1]} if undone else {})


@pytest.mark.parametrize(
    "where, enable, expected",
    [
        ("kvm-b1", False, ("refuse", None, {})),
        ("kvm-b1", True, ("migrate", "kvm-b1", {"kvm-b1": [WEB1]})),
        ("kvm-a1", False, ("refuse", None, {})),
        ("kvm-a1", True, ("migrate", "kvm-b1", {"kvm-a1": [WEB1]})),
    ],
    ids=["destination guard", "destination guard, enable", "source guard", "source guard, enable"],
)
def test_just_in_time_disabled_migration(facts, planned, where, enable, expected):
    changed = copy.deepcopy(facts)
    changed[where]["driver"]["migration_guard"] = {WEB1: {"migratable": False, "reason": "key change"}}
    if where == "kvm-a1":
        next(m for m in changed["kvm-a1"]["driver"]["mdevs"] if m["uuid"] == WEB1)["migratable"] = False
    steps = just_in_time(wave_of(planned, WEB1), changed, enable=enable)
    step = steps["guests"][0]
    assert (step["action"], step["destination"], steps["enable"]) == expected
    assert ("migration_disabled" in step["codes"]) is (not enable)
