"""The mdev/mask planner: pre-checks in AP terms, ordered writes checked against the simulator model."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._config_plan import (
    PlanError,
    ap_config_value,
    require_config,
    conflicts,
    definition_conflicts,
    explain_errno,
    parse_config,
    plan_mask,
    plan_writes,
    release_conflicts,
    state_from_facts,
)
from apsim.fleet import build_fleet
from apsim.render import render_fleet

U_MINE = "70000000-0000-4000-8000-000000000001"
U_OTHER = "70000000-0000-4000-8000-000000000002"
U_GUEST = "70000000-0000-4000-8000-000000000003"

# host-owned APQNs: adapters 0-3 x domains 0-7; everything else is reserved for vfio_ap
FLEET = {
    "hosts": {
        "plan": {
            "max_adapter_id": 63,
            "max_domain_id": 15,
            "apmask": "0-3",
            "aqmask": "0-7",
            "cards": [{"id": a, "type": "CEX8C", "domains": "0-15"} for a in (1, 4, 5, 6)],
            "mdevs": [
                {"uuid": U_MINE, "adapters": [4], "domains": [8, 9], "control_domains": [8]},
                {"uuid": U_OTHER, "adapters": [5], "domains": [10], "control_domains": [10]},
                {"uuid": U_GUEST, "adapters": [6], "domains": [11], "guest": "db1"},
            ],
        }
    }
}


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """The planning state read from the rendered fleet by the facts engine."""
    root = tmp_path_factory.mktemp("plan")
    render_fleet(build_fleet(FLEET), root)
    facts, warnings = gather_facts(str(root / "plan"), ["all"])
    assert warnings == []
    return state_from_facts(facts)


def test_state_from_facts_reads_masks_mdevs_and_limits(state):
    assert state["apmask"] == [0, 1, 2, 3]
    assert state["aqmask"] == list(range(8))
    assert (state["max_adapter_id"], state["max_domain_id"]) == (63, 15)
    assert state["ap_config"] is True
    assert state["mdevs"][U_MINE]["domains"] == [8, 9]
    assert state["mdevs"][U_GUEST]["guest"] == "db1"
    assert [1, 0] in state["queues"] and [6, 15] in state["queues"]


@pytest.mark.parametrize(
    "adapters, domains, control, current, expected",
    [
        (5, "8-9", "0x08", None, {"adapters": [5], "domains": [8, 9], "control_domains": [8]}),
        ([], [], [], None, {"adapters": [], "domains": [], "control_domains": []}),
        (
            None,
            None,
            None,
            {"adapters": [4], "domains": [8], "control_domains": [8]},
            {"adapters": [4], "domains": [8], "control_domains": [8]},
        ),
        (
            "0x04,7",
            None,
            None,
            {"adapters": [4], "domains": [9], "control_domains": []},
            {"adapters": [4, 7], "domains": [9], "control_domains": []},
        ),
    ],
)
def test_parse_config_accepts_the_id_grammar_and_keeps_omitted_parts(state, adapters, domains, control, current, expected):
    assert parse_config(state, adapters, domains, control, current) == expected


@pytest.mark.parametrize(
    "adapters, domains, control, words",
    [
        (300, 8, None, ["adapters", "300", "0..255"]),
        (64, 8, None, ["adapters", "64", "maximum adapter ID 63", "ENODEV"]),
        (5, 16, None, ["domains", "16", "maximum domain ID 15", "ENODEV"]),
        (5, 8, 99, ["control_domains", "99", "ENODEV"]),
        (5, "8-x", None, ["domains", "'x'", "not a number"]),
        (5, [], [8], ["control_domains", "without any usage domain", "ap-check"]),
        (True, 8, None, ["adapters", "boolean"]),
    ],
)
def test_parse_config_refuses_bad_input_with_one_clear_message(state, adapters, domains, control, words):
    with pytest.raises(PlanError) as info:
        parse_config(state, adapters, domains, control)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "uuid, config, codes, words",
    [
        (U_MINE, {"adapters": [4], "domains": [8, 9, 12], "control_domains": [8]}, [], []),
        (
            U_MINE,
            {"adapters": [1], "domains": [3], "control_domains": []},
            ["EADDRNOTAVAIL"],
            ["APQN 01.0003", "reserved for the host drivers", "ap_mask"],
        ),
        (U_MINE, {"adapters": [4, 5], "domains": [10], "control_domains": []}, ["EADDRINUSE"], ["APQN 05.000a", U_OTHER]),
        (U_MINE, {"adapters": [6], "domains": [11], "control_domains": []}, ["EADDRINUSE"], ["guest db1"]),
        (U_MINE, {"adapters": [1, 5], "domains": [2, 10], "control_domains": []}, ["EADDRNOTAVAIL", "EADDRINUSE"], ["01.0002", "05.000a"]),
        # control domains may be shared between mdevs
        (U_MINE, {"adapters": [4], "domains": [8], "control_domains": [10, 11]}, [], []),
    ],
)
def test_conflicts_predict_the_kernel_refusal_naming_apqn_and_mdev(state, uuid, config, codes, words):
    found = conflicts(state, uuid, config)
    assert [c["errno"] for c in found] == codes
    text = " ".join(c["message"] for c in found)
    for word in words:
        assert word in text
    if codes:
        with pytest.raises(PlanError) as info:
            require_config(state, uuid, config)
        assert info.value.errno == getattr(errno, codes[0])
    else:
        require_config(state, uuid, config)


def test_kernel_errno_is_explained_like_the_precheck(state):
    config = {"adapters": [5], "domains": [10], "control_domains": []}
    assert U_OTHER in explain_errno(state, U_MINE, config, errno.EADDRINUSE)
    assert explain_errno(state, U_MINE, config, errno.EADDRNOTAVAIL) is None


def _apply(host, uuid, writes):
    """Apply writes to the simulator model as the kernel would (raises OSError like the kernel)."""
    mdev = host.mdevs[uuid]
    for attr, value in writes:
        if attr == "ap_config":
            host.write_ap_config(mdev, value)
        elif attr.startswith("assign_"):
            host.assign(mdev, attr[len("assign_") :], value)
        else:
            host.unassign(mdev, attr[len("unassign_") :], value)
    return {"adapters": sorted(mdev.apm), "domains": sorted(mdev.aqm), "control_domains": sorted(mdev.adm)}


@pytest.mark.parametrize("use_ap_config", [True, False], ids=["ap_config", "assign"])
@pytest.mark.parametrize(
    "desired",
    [
        {"adapters": [4], "domains": [8, 9], "control_domains": [8]},  # no change
        {"adapters": [4, 7], "domains": [8, 9, 12], "control_domains": [8, 12]},  # grow
        {"adapters": [7], "domains": [12], "control_domains": []},  # swap everything
        {"adapters": [], "domains": [], "control_domains": []},  # empty it
        {"adapters": [4, 5], "domains": [8, 9, 12], "control_domains": [0, 15]},  # 05.0008/9/c are free
    ],
)
def test_planned_writes_reach_the_desired_config_through_the_kernel_model(state, desired, use_ap_config):
    host = build_fleet(FLEET)["plan"]
    current = {"adapters": [4], "domains": [8, 9], "control_domains": [8]}
    writes = plan_writes(current, desired, use_ap_config)
    if desired == current:
        assert writes == []
    if not use_ap_config:
        assert all(v == str(int(v)) for _a, v in writes), "values are plain decimal"
        kinds = [a.split("_", 1)[0] for a, _v in writes]
        assert kinds == sorted(kinds, key=lambda k: k != "unassign"), "all unassignments come first"
    assert _apply(host, U_MINE, writes) == desired


def test_ap_config_value_is_three_kernel_masks():
    value = ap_config_value({"adapters": [0], "domains": [255], "control_domains": []})
    apm, aqm, adm = value.split(",")
    assert apm == "0x8" + "0" * 63 and aqm == "0x" + "0" * 63 + "1" and adm == "0x" + "0" * 64


@pytest.mark.parametrize(
    "adapters, domains, reserve, writes, changed, moved",
    [
        (None, "3", True, (None, "-3"), ([], [3]), ["01.0003"]),
        ([1, "0x02"], None, True, ("-1-2", None), ([1, 2], []), [f"01.{d:04x}" for d in range(8)]),
        (None, "8-9", True, (None, None), ([], []), []),  # already reserved: nothing to write
        (None, "8", False, (None, "+8"), ([], [8]), ["01.0008"]),
        ("4", None, False, ("+4", None), ([4], []), [f"04.{d:04x}" for d in range(8)]),
    ],
)
def test_plan_mask_writes_only_the_change_in_relative_syntax(state, adapters, domains, reserve, writes, changed, moved):
    plan = plan_mask(state, adapters, domains, reserve)
    assert (plan["apmask"], plan["aqmask"]) == writes
    assert (plan["adapters"], plan["domains"]) == changed
    assert [m["apqn"] for m in plan["moved_queues"]] == moved
    for move in plan["moved_queues"]:
        assert {move["from"], move["to"]} == {"cex4queue", "vfio_ap"}


def test_plan_mask_predicts_what_the_kernel_does(state):
    host = build_fleet(FLEET)["plan"]
    plan = plan_mask(state, "2-3", "0x05", True)
    host.write_mask("apmask", plan["apmask"])
    host.write_mask("aqmask", plan["aqmask"])
    assert sorted(host.apmask) == plan["new_apmask"] and sorted(host.aqmask) == plan["new_aqmask"]


@pytest.mark.parametrize("adapters, domains, word", [(64, None, "maximum adapter ID 63"), (None, "3-1", "backwards")])
def test_plan_mask_refuses_bad_ids(state, adapters, domains, word):
    with pytest.raises(PlanError, match=word):
        plan_mask(state, adapters, domains, True)


@pytest.mark.parametrize(
    "adapters, domains, refused",
    [
        (None, [8], []),  # adapters 0-3 x domain 8: no mdev holds those
        ([4], None, []),  # adapter 4 x domains 0-7: U_MINE holds 04.0008/9 only
        ([4], [8], [U_MINE]),  # 04.0008 goes back to the host drivers
        ([4, 5], [8, 10], [U_MINE, U_OTHER]),
    ],
)
def test_release_conflicts_name_the_mdev_the_kernel_would_refuse_for(state, adapters, domains, refused):
    plan = plan_mask(state, adapters, domains, False)
    found = release_conflicts(state, plan["new_apmask"], plan["new_aqmask"])
    host = build_fleet(FLEET)["plan"]
    kernel_refused = False
    try:
        for which in ("apmask", "aqmask"):
            if plan[which]:
                host.write_mask(which, plan[which])
    except OSError as exc:
        assert exc.errno == errno.EBUSY
        kernel_refused = True
    assert kernel_refused == bool(found)
    assert [c["mdev"] for c in found] == refused
    for entry in found:
        assert entry["errno"] == "EBUSY" and entry["mdev"] in entry["message"]


DEFS = [
    {"uuid": U_OTHER, "start": "auto", "adapters": [5], "domains": [10, 11], "control_domains": []},
    {"uuid": U_GUEST, "start": "manual", "adapters": [6], "domains": [12], "control_domains": []},
    {"uuid": U_MINE, "start": "auto", "adapters": [4], "domains": [8], "control_domains": []},
]


@pytest.mark.parametrize(
    "config, ap, aq, checks, words",
    [
        ({"adapters": [4], "domains": [8, 9], "control_domains": []}, [0], [0], [], []),  # its own definition
        ({"adapters": [5], "domains": [11], "control_domains": []}, [0], [0], ["autostart"],
         ["APQN 05.000b", "defined for autostart by " + U_OTHER]),
        ({"adapters": [6], "domains": [12], "control_domains": []}, [0], [0], [], []),  # manual definitions are not checked
        ({"adapters": [1, 6], "domains": [12], "control_domains": []}, [1], [12], ["persistent_mask"],
         ["APQN 01.000c", "persistent AP masks"]),
        ({"adapters": [5], "domains": [10], "control_domains": []}, [5], [10], ["autostart", "persistent_mask"], []),
    ],
)  # fmt: skip
def test_definition_conflicts_mirror_ap_check(config, ap, aq, checks, words):
    found = definition_conflicts(DEFS, U_MINE, config, ap, aq)
    assert [c["check"] for c in found] == checks
    text = " ".join(c["message"] for c in found)
    for word in words:
        assert word in text
