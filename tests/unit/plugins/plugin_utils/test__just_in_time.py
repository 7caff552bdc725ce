"""_just_in_time: each guest of a wave checked again with the facts gathered just before it (demo fleet, kvm-a1 drained)."""

from __future__ import annotations

import copy

import pytest
from helpers.drain_cases import DEMO, HSM1, WEB1, planned_drain, wave_of
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import MigrateCommand
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._just_in_time import just_in_time
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._waves import order_waves

PREPARE = DrainOptions.of(prepare=True, per_destination=2)


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    return facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def planned(facts):
    return planned_drain(facts)


def test_as_planned(facts, planned):
    options = DrainOptions.of(prepare=True, per_destination=2, command=MigrateCommand.of(timeout=60))
    steps = just_in_time(wave_of(planned, WEB1, HSM1), facts, None, options)
    actions = {s["guest"]: (s["action"], s["destination"], s["rerouted"]) for s in steps["guests"]}
    assert actions == {"web1": ("migrate", "kvm-b1", False), "hsm1": ("prepare", "kvm-b1", False)}
    assert steps["prepare"] == {"kvm-b1": [{"source": "kvm-a1", "uuid": HSM1}]}
    assert [m["guest"] for m in steps["migrate"]["kvm-a1"]] == ["web1", "hsm1"]
    assert steps["migrate"]["kvm-a1"][0]["argv"][-6:] == ["--timeout", "60", "--domain", "web1", "--desturi", "qemu+ssh://kvm-b1/system"]
    assert steps["watch"] == {"kvm-a1": ["hsm1", "web1"], "kvm-b1": ["hsm1", "web1"]} and steps["hosts"] == ["kvm-a1", "kvm-b1"]


def test_the_destination_limit_holds_within_a_wave(facts, planned):
    steps = just_in_time(wave_of(planned, WEB1, HSM1), facts, None, DrainOptions.of(prepare=True, per_destination=1))
    chosen = [s["destination"] for s in steps["guests"] if s["action"] in ("migrate", "prepare")]
    assert len(chosen) == len(set(chosen))


def test_the_migration_address_goes_into_the_command(facts, planned):
    steps = just_in_time(wave_of(planned, WEB1), facts, {"kvm-b1": "10.0.0.2"}, PREPARE)
    assert "tcp://10.0.0.2" in " ".join(steps["migrate"]["kvm-a1"][0]["argv"])


def without_mdev(facts, host, uuid):
    changed = copy.deepcopy(facts)
    changed[host]["driver"]["mdevs"] = [m for m in changed[host]["driver"]["mdevs"] if m["uuid"] != uuid]
    return changed


JIT = {
    # facts change, prepare allowed -> (action, destination, codes)
    "landing mdev gone, prepare": (lambda f: without_mdev(f, "kvm-b1", WEB1), True, ("prepare", "kvm-b1", [])),
    "landing mdev gone, no prepare": (lambda f: without_mdev(f, "kvm-b1", WEB1), False, ("refuse", None, ["mdev_missing"])),
    "source mdev gone": (lambda f: without_mdev(f, "kvm-a1", WEB1), True, ("skip", None, ["mdev_gone"])),
    "no facts of the destination": (lambda f: {h: v for h, v in f.items() if h != "kvm-b1"}, True, ("refuse", None, [])),
}


@pytest.mark.parametrize("change, prepare, expected", list(JIT.values()), ids=list(JIT))
def test_sees_changes(facts, planned, change, prepare, expected):
    steps = just_in_time(wave_of(planned, WEB1), change(facts), None, DrainOptions.of(prepare=prepare))
    step = steps["guests"][0]
    assert (step["action"], step["destination"], step["codes"]) == expected
    assert (step["action"] in ("migrate", "prepare")) == bool(steps["migrate"])


def test_a_guard_on_the_destination_refuses(facts, planned):
    changed = copy.deepcopy(facts)
    changed["kvm-b1"]["driver"]["migration_guard"] = {WEB1: {"migratable": False, "reason": "key change"}}
    step = just_in_time(wave_of(planned, WEB1), changed, None, DrainOptions())["guests"][0]
    assert step["action"] == "refuse" and "migration_disabled" in step["codes"]


def moved_to_b1(facts):
    changed = copy.deepcopy(facts)
    src = next(m for m in changed["kvm-a1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    dst = next(m for m in changed["kvm-b1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    src["in_use"], dst["in_use"], src["guest"], dst["guest"] = False, True, None, "web1"
    return changed


def test_already_moved(facts, planned):
    changed = moved_to_b1(facts)
    step = just_in_time(wave_of(planned, WEB1), changed, None, DrainOptions())["guests"][0]
    assert (step["action"], step["destination"], step["guest"]) == ("moved", "kvm-b1", "web1")
    changed["kvm-b1"]["driver"]["mdevs"] = [m for m in changed["kvm-b1"]["driver"]["mdevs"] if m["uuid"] != WEB1]
    step = just_in_time(wave_of(planned, WEB1), changed, None, DrainOptions())["guests"][0]
    assert (step["action"], step["codes"]) == ("skip", ["guest_not_running"])


def test_a_resumed_guest_is_never_migrated(facts, planned):
    plan, evacuation = planned
    later = {**evacuation, "guests": [g for g in evacuation["guests"] if g["uuid"] != WEB1]}
    started = drain_document(evacuation, Progress("execute", started=True), {}, plan)
    wave = order_waves(later, plan, DrainOptions.of(prepare=True), previous=started)["waves"][0]
    steps = just_in_time(wave["guests"], moved_to_b1(facts), None, DrainOptions())
    assert [(s["action"], s["destination"], s["argv"]) for s in steps["guests"]] == [("moved", "kvm-b1", None)]
    steps = just_in_time(wave["guests"], facts, None, DrainOptions())
    assert steps["guests"][0]["action"] == "skip" and steps["migrate"] == {}


def test_takes_the_name_from_the_facts(facts, planned):
    """An entry that keeps web1's UUID but names db1 is refused: virsh would migrate db1 (issue 20, finding 2)."""
    (entry,) = wave_of(planned, WEB1)
    steps = just_in_time([{**entry, "guest": "db1"}], facts, None, DrainOptions())
    step = steps["guests"][0]
    assert step["action"] == "refuse" and step["codes"] == ["migration_refused"] and "'db1'" in step["message"]
    assert steps["migrate"] == {}


def test_refuses_a_guest_on_two_hosts(facts, planned):
    changed = copy.deepcopy(facts)
    dst = next(m for m in changed["kvm-b1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    dst["in_use"], dst["guest"] = True, "web1"
    step = just_in_time(wave_of(planned, WEB1), changed, None, DrainOptions())["guests"][0]
    assert step["action"] == "refuse" and "in use on kvm-a1, kvm-b1" in step["message"]


def test_a_name_the_command_cannot_carry_is_refused(facts, planned):
    (entry,) = wave_of(planned, WEB1)
    changed = copy.deepcopy(facts)
    next(m for m in changed["kvm-a1"]["driver"]["mdevs"] if m["uuid"] == WEB1)["guest"] = "42"
    steps = just_in_time([{**entry, "guest": "42"}], changed, None, DrainOptions())
    step = steps["guests"][0]
    assert (step["action"], step["codes"]) == ("refuse", ["migration_refused"]) and "domain ID" in step["message"]
    assert steps["migrate"] == {}


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
def test_disabled_migration(facts, planned, where, enable, expected):
    changed = copy.deepcopy(facts)
    changed[where]["driver"]["migration_guard"] = {WEB1: {"migratable": False, "reason": "key change"}}
    if where == "kvm-a1":
        next(m for m in changed["kvm-a1"]["driver"]["mdevs"] if m["uuid"] == WEB1)["migratable"] = False
    steps = just_in_time(wave_of(planned, WEB1), changed, None, DrainOptions.of(enable=enable))
    step = steps["guests"][0]
    assert (step["action"], step["destination"], steps["enable"]) == expected
    assert ("migration_disabled" in step["codes"]) is (not enable)


def test_wants_drain_options(facts):
    with pytest.raises(ValueError, match="options: expected DrainOptions"):
        just_in_time([], facts, None, {"rules": "auto"})
