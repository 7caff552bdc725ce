"""_wave_outcomes: what a wave did, per guest, from what its host steps returned; what to undo and clean up."""

from __future__ import annotations

import pytest
from helpers.drain_cases import HSM1, WEB1, host, mdev, migrated, steps_for

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._wave_outcomes import (
    guest_outcome,
    seconds,
    undo_wanted,
    verify_move,
    wave_outcomes,
    with_cleanup,
)

VERIFY = {
    "moved": (host(mdev(WEB1, False, ["01.0004"])), host(mdev(WEB1, True, ["01.0004"])), "running\n\n",
              "error: failed to get domain 'web1'", []),
    "not running there": (host(), host(mdev(WEB1, True, ["01.0004"])), "shut off", "", ["says 'shut off'"]),
    "other APQNs": (host(), host(mdev(WEB1, True, ["01.0005"])), "running", "", ["gives the guest 01.0005"]),
    "idle there, still on the source": (host(mdev(WEB1, True, ["01.0004"])), host(mdev(WEB1, False, ["01.0004"])), "running", "running",
                                        ["not in use", "still runs on the source", "still in use"]),
    "no mdev": (host(), host(), "running", "", ["has no mdev"]),
    "no facts after": (host(), None, "running", "", ["no facts of the destination"]),
}  # fmt: skip


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


OUTCOMES = {
    "moved": ("migrate", {"kvm-a1": {"migrated": migrated(0), "facts": host(mdev(WEB1, False, ["01.0004"])), "domstate": {}},
                          "kvm-b1": {"facts": host(mdev(WEB1, True, ["01.0004"])), "domstate": {"web1": "running"}}},
              ("moved", None, [], 2.0)),
    "kernel refusal": ("prepare", {"kvm-a1": {"migrated": migrated(1, "error: internal error: QEMU ... ret: -19")},
                                   "kvm-b1": {"kernel_log": f"Nov 30 10:14:14 kvm-b1 kernel: vfio_ap_mdev {WEB1}: Queue 01.0004 not "
                                                            "available to vfio_ap driver on target host\n"}},
                       ("failed", "migrate", ["apqn_not_bound"], 2.0)),
    "preparation failed": ("prepare", {"kvm-b1": {"prepare_errors": {WEB1: "kvm-b1 cannot be made ready"}}},
                           ("failed", "prepare", ["preparation_failed"], None)),
    "verification failed": ("migrate", {"kvm-a1": {"migrated": migrated(0)}, "kvm-b1": {"facts": host(), "domstate": {"web1": "shut off"}}},
                            ("failed", "verify", ["verification_failed"], 2.0)),
    "timeout": ("migrate", {"kvm-a1": {"migrated": [{"it": {"uuid": WEB1}, "ansible_loop_var": "it", "failed": True,
                                                     "msg": "The command action failed to execute in the expected time frame (5) and was "
                                                            "terminated; timed out"}]}},
                ("failed", "migrate", ["migration_timeout"], None)),
    "no result": ("migrate", {}, ("failed", "migrate", ["migration_refused"], None)),
    "refused before": ("refuse", {}, ("failed", "check", [], None)),
    "already moved": ("moved", {}, ("already_moved", None, [], None)),
    "skipped": ("skip", {}, ("skipped", "check", [], None)),
}  # fmt: skip


@pytest.mark.parametrize("action, results, expected", list(OUTCOMES.values()), ids=list(OUTCOMES))
def test_guest_outcome(action, results, expected):
    out = guest_outcome(steps_for(action)["guests"][0], results, False)
    assert (out["result"], out["stage"], out["codes"], out["duration"]) == expected
    undo = undo_wanted({WEB1: out}, keep=False)
    assert undo == ({"kvm-b1": [WEB1]} if action == "prepare" else {})
    assert undo_wanted({WEB1: out}, keep=True) == {}


def test_check_mode_would_move():
    assert guest_outcome(steps_for("prepare")["guests"][0], {}, True)["result"] == "would_move"


@pytest.mark.parametrize("stage, undone", [("prepare", True), ("migrate", True), ("verify", False), ("check", False)])
def test_undo_wanted_only_when_the_guest_stayed(stage, undone):
    out = {"uuid": HSM1, "result": "failed", "stage": stage, "prepared": True, "tried_destination": "kvm-b1"}
    assert undo_wanted({HSM1: out}, keep=False) == ({"kvm-b1": [HSM1]} if undone else {})


@pytest.mark.parametrize(
    "on_failure, recorded, keep, expected",
    [
        ("stop", {WEB1: [{"type": "mdev", "uuid": WEB1, "state": "absent", "persistent": True}]}, False,
         {"kvm-b1": [{"type": "mdev", "uuid": WEB1, "state": "absent", "persistent": True}]}),
        ("continue", {WEB1: [{"type": "mdev", "uuid": WEB1, "state": "absent", "persistent": True}]}, True, {}),
        ("stop", {}, False, {"kvm-b1": []}),
    ],
)  # fmt: skip
def test_wave_outcomes_of_a_failed_preparation(on_failure, recorded, keep, expected):
    results = {"kvm-b1": {"prepare_errors": {WEB1: "cannot be made ready"}, "undo": recorded}}
    got = wave_outcomes(steps_for("prepare"), results, DrainOptions.of(on_failure=on_failure, keep_prepared=keep))
    assert got["undo_actions"] == expected and got["guest_failed"] is True
    assert got["stopped"] is (on_failure == "stop") and got["moved"] == {} and got["cleanup"] == {}


def test_wave_outcomes_of_a_move():
    results = {"kvm-a1": {"migrated": migrated(0), "facts": host(mdev(WEB1, False, ["01.0004"]))},
               "kvm-b1": {"facts": host(mdev(WEB1, True, ["01.0004"])), "domstate": {"web1": "running"}}}  # fmt: skip
    got = wave_outcomes(steps_for("migrate"), results, DrainOptions())
    assert got["moved"] == {"kvm-a1": [WEB1]} and got["cleanup"] == {"kvm-a1": [{"uuid": WEB1, "guest": "web1"}]}
    assert (got["guest_failed"], got["stopped"], got["undo"]) == (False, False, {})
    assert got["outcomes"][WEB1]["cleaned"] == []  # filled in once the source mdev was removed (with_cleanup)


@pytest.mark.parametrize(
    "result, check_mode, cleaned",
    [
        ({"removed": True, "definition": {"before": None, "after": None}}, False, ["active mdev removed"]),
        ({"removed": True, "definition": {"before": {"start": "auto"}, "after": None}}, True,
         ["active mdev would be removed", "mdevctl definition would be removed"]),
        ({"removed": False, "definition": {"before": None, "after": None}}, False, ["nothing left to remove"]),
        ({"failed": True, "msg": "mdev is in use"}, False, ["removing the source mdev failed: mdev is in use"]),
        ({"skipped": True}, False, []),
    ],
)  # fmt: skip
def test_with_cleanup_says_what_was_removed(result, check_mode, cleaned):
    outcomes = wave_outcomes(steps_for("moved"), {}, DrainOptions(), check_mode)["outcomes"]
    results = {"kvm-a1": {"cleaned": [{"ansible_loop_var": "x", "x": {"uuid": WEB1}, **result}]}}
    got = with_cleanup(outcomes, {"kvm-a1": [{"uuid": WEB1, "guest": "web1"}]}, results, check_mode)
    assert got[WEB1]["cleaned"] == cleaned and outcomes[WEB1]["cleaned"] == []
