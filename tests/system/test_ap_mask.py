"""s390x.vfio_ap.ap_mask with real ansible-playbook against a live simulated host.

One playbook runs every case in order, each followed by a snapshot of the simulator (its
kernel-visible state and write counter, read on the controller), so each case is checked against
the state just before it.
"""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import ids_to_mask
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import parse_rules
from helpers.ansible_run import local_inventory, run_playbook

pytestmark = pytest.mark.live

U_HOLD = "c0000000-0000-4000-8000-000000000001"
# Host 'q': adapters 1, 2 (cards) with domains 0-9; domains 3-7 start reserved for vfio_ap.
FLEET = {
    "hosts": {
        "q": {
            "max_adapter_id": 63,
            "max_domain_id": 15,
            "aqmask": "0-2,8-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-9"}, {"id": 2, "type": "CEX8P", "domains": "0-9"}],
            "mdevs": [{"uuid": U_HOLD, "adapters": [2], "domains": [4], "guest": "db1"}],
        }
    }
}
ALL = list(range(256))
SNAPSHOT = {"ansible.builtin.set_fact": {"snapshot": "{{ lookup('ansible.builtin.file', state_file) }}"}}

# (case, module args, task keywords)
CASES = [
    ("reserve 8-9 (check)", {"domains": "8-9", "persistent": True}, {"check_mode": True}),
    ("reserve 8-9", {"domains": "0x08-0x09", "persistent": True}, {}),
    ("reserve 8-9 again", {"domains": [8, "9"], "persistent": True}, {}),
    ("release 4: held by an mdev", {"domains": 4, "state": "released"}, {}),
    ("release 3-4: one held", {"domains": "3-4", "state": "released", "persistent": True}, {}),
    ("adapter above host max", {"adapters": 64}, {}),
    ("ID above 255", {"domains": 256}, {}),
    ("not an ID", {"domains": "4,five"}, {}),
    ("unknown state", {"domains": 3, "state": "free"}, {}),
    ("release 9 (check)", {"domains": 9, "state": "released", "persistent": True}, {"check_mode": True}),
    ("release 9", {"domains": 9, "state": "released", "persistent": True}, {}),
    ("release 9 again", {"domains": 9, "state": "released", "persistent": True}, {}),
    ("reserve adapter 1 now only", {"adapters": [1]}, {}),
    ("nothing asked", {}, {}),
]
REFUSED = {
    "release 4: held by an mdev": ["APQN 02.0004", U_HOLD, "guest db1", "EBUSY", "unassign"],
    "release 3-4: one held": ["APQN 02.0004", U_HOLD],
    "adapter above host max": ["adapters", "64", "maximum adapter ID 63"],
    "ID above 255": ["domains", "256", "0..255"],
    "not an ID": ["domains", "'five'", "not a number"],
    "unknown state": ["state", "reserved, released"],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import require_live
    from apsim.live import mounted

    require_live()
    work = tmp_path_factory.mktemp("ap-mask")
    with mounted(FLEET, work / "mnt") as live:
        root = live.host_dir("q")
        inventory = local_inventory({"q": {"sysroot": str(root), "state_file": str(root.parent / ".apsim/q/state")}},
                                    work / "inventory.yml")  # fmt: skip
        tasks = [{"name": "initial state", **SNAPSHOT}]
        for name, args, keywords in CASES:
            tasks.append({"name": name, "s390x.vfio_ap.ap_mask": {"sysroot": "{{ sysroot }}", **args},
                          "ignore_errors": True, **keywords})  # fmt: skip
            tasks.append({"name": f"after {name}", **SNAPSHOT})
        play = yaml.safe_dump([{"hosts": "q", "gather_facts": False, "tasks": tasks}], sort_keys=False)
        result = run_playbook(play, inventory, diff=True)
        assert result.data, result.stdout[-3000:] + result.stderr[-3000:]
        states, previous = {}, None
        for name in ["initial state"] + [f"after {c[0]}" for c in CASES]:
            value = result.task_results(name)["q"]["ansible_facts"]["snapshot"]
            value = value if isinstance(value, dict) else json.loads(value)
            if previous is not None:
                states[name[len("after ") :]] = (previous, value)
            previous = value
        rules = (root / "etc/udev/rules.d/41-ap.rules").read_text()
        yield result, states, rules


def case(run, name):
    result, states, _rules = run
    before, after = states[name]
    return result.task_results(name)["q"], before, after


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refusals_fail_before_any_write_with_one_message(run, name):
    res, before, after = case(run, name)
    assert res.get("failed") is True and not res.get("changed")
    for word in REFUSED[name]:
        assert word in res["msg"], res["msg"]
    assert after == before, "nothing written, state unchanged"


@pytest.mark.parametrize("name", ["reserve 8-9 (check)", "release 9 (check)"])
def test_check_mode_predicts_and_writes_nothing(run, name):
    res, before, after = case(run, name)
    assert res["changed"] is True and res["writes"]
    assert res["persisted_with"] == "file"
    assert after == before
    masks_diff, file_diff = res["diff"]
    assert masks_diff["before"] != masks_diff["after"]
    assert file_diff["before_header"].endswith("etc/udev/rules.d/41-ap.rules")


@pytest.mark.parametrize("name", ["reserve 8-9 again", "release 9 again", "nothing asked"])
def test_a_second_identical_run_changes_nothing(run, name):
    res, before, after = case(run, name)
    assert res["changed"] is False and res["writes"] == [] and res["persisted_with"] is None
    assert after == before


def test_reserve_writes_the_relative_change_and_moves_the_queues(run):
    res, before, after = case(run, "reserve 8-9")
    assert res["changed"] and [w["value"] for w in res["writes"]] == ["-8-9"]
    assert res["writes"][0]["file"].endswith("sys/bus/ap/aqmask")
    assert res["reserved"] == {"adapters": [], "domains": [8, 9]} and res["released"] == {"adapters": [], "domains": []}
    assert sorted(m["apqn"] for m in res["moved_queues"]) == ["01.0008", "01.0009", "02.0008", "02.0009"]
    assert all((m["from"], m["to"]) == ("cex4queue", "vfio_ap") for m in res["moved_queues"])
    assert set(before["state"]["aqmask"]) - set(after["state"]["aqmask"]) == {8, 9}
    assert after["writes"] - before["writes"] == 1
    assert res["after"]["aqmask"] == ids_to_mask(after["state"]["aqmask"])
    assert res["persisted_with"] == "file"
    assert res["persistent"]["after"]["aqmask"] == ids_to_mask([0, 1, 2] + list(range(10, 256)))


def test_release_gives_queues_back_and_updates_the_persistent_masks(run):
    res, before, after = case(run, "release 9")
    assert [w["value"] for w in res["writes"]] == ["+9"] and res["released"]["domains"] == [9]
    assert sorted(m["apqn"] for m in res["moved_queues"]) == ["01.0009", "02.0009"]
    assert 9 in after["state"]["aqmask"]
    result, _states, rules = run
    assert parse_rules(rules) == {"apmask": ALL, "aqmask": [0, 1, 2, 9] + list(range(10, 256))}


def test_active_only_change_leaves_the_persistent_masks(run):
    res, before, after = case(run, "reserve adapter 1 now only")
    assert res["changed"] and [w["value"] for w in res["writes"]] == ["-1"] and "persistent" not in res
    assert 1 not in after["state"]["apmask"]
    _result, _states, rules = run
    assert parse_rules(rules)["apmask"] == ALL
