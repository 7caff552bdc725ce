"""s390x.vfio_ap.ap_mask remove_rule: the persistent mask rule can be dropped again (ansible-playbook, live host).

One playbook runs the cases in order; after each, the rule file's checksum (or absence) and the
simulator's state are recorded, so each case is checked against the state just before it. A
reboot at the end shows what the host comes back with.
"""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import ids_to_mask
from helpers.ansible_run import local_inventory, run_playbook

pytestmark = pytest.mark.live

RULES = "etc/udev/rules.d/41-ap.rules"
# Host 'r': adapter 1 with domains 0-9; domains 3-7 reserved for vfio_ap now, but not persistently.
FLEET = {"hosts": {"r": {"max_domain_id": 15, "aqmask": "0-2,8-255", "cards": [{"id": 1, "type": "CEX8C", "domains": "0-9"}]}}}
ALL = list(range(256))
BAD_RULE = 'ACTION=="change", GOTO="cfg_ap"\nLABEL="cfg_ap"\nATTR{../../bus/ap/aqmask}="zz"\n'

# (case, module args, task keywords)
CASES = [
    ("reserve 8 persistently: creates the rule", {"domains": 8, "persistent": True}, {}),
    ("reserve 9 persistently: the rule exists", {"domains": 9, "persistent": True}, {}),
    ("persistent and remove_rule", {"domains": 9, "state": "released", "persistent": True, "remove_rule": True}, {}),
    ("release 9, remove the rule (check)", {"domains": 9, "state": "released", "remove_rule": True}, {"check_mode": True}),
    ("release 9, remove the rule", {"domains": 9, "state": "released", "remove_rule": True}, {}),
    ("release 9, remove the rule again", {"domains": 9, "state": "released", "remove_rule": True}, {}),
    ("only remove the rule, none there", {"remove_rule": True}, {}),
    ("a rule that cannot be read", {"remove_rule": True}, {}),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import require_live
    from apsim.live import mounted

    require_live()
    work = tmp_path_factory.mktemp("ap-mask-rule")
    with mounted(FLEET, work / "mnt") as live:
        root = live.host_dir("r")
        inventory = local_inventory({"r": {"sysroot": str(root), "state_file": str(root.parent / ".apsim/r/state")}},
                                    work / "inventory.yml")  # fmt: skip
        tasks = []
        for name, args, keywords in CASES:
            if name == "a rule that cannot be read":
                copy = {"dest": f"{{{{ sysroot }}}}/{RULES}", "content": BAD_RULE, "mode": "0644"}
                tasks.append({"name": "write a rule ap-check cannot read", "ansible.builtin.copy": copy})
            tasks.append({"name": name, "s390x.vfio_ap.ap_mask": {"sysroot": "{{ sysroot }}", **args},
                          "ignore_errors": True, **keywords})  # fmt: skip
            tasks.append({"name": f"rule after {name}", "ansible.builtin.stat": {"path": f"{{{{ sysroot }}}}/{RULES}"}})
            tasks.append({"name": f"state after {name}",
                          "ansible.builtin.set_fact": {"snapshot": "{{ lookup('ansible.builtin.file', state_file) }}"}})  # fmt: skip
        play = yaml.safe_dump([{"hosts": "r", "gather_facts": False, "tasks": tasks}], sort_keys=False)
        result = run_playbook(play, inventory, diff=True)
        assert result.data, result.stdout[-3000:] + result.stderr[-3000:]
        seen = {}
        for name, _args, _kw in CASES:
            stat = result.task_results(f"rule after {name}")["r"]["stat"]
            snapshot = result.task_results(f"state after {name}")["r"]["ansible_facts"]["snapshot"]
            snapshot = snapshot if isinstance(snapshot, dict) else json.loads(snapshot)
            seen[name] = (result.task_results(name)["r"], stat.get("checksum") if stat["exists"] else None, snapshot["state"])
        reboot = live.reboot("r")
        yield seen, reboot, live.state("r")


def test_a_rule_created_by_a_run_says_so(run):
    seen, _reboot, _state = run
    first, rule, _state = seen["reserve 8 persistently: creates the rule"]
    assert rule is not None and first["persistent"]["created"] is True and first["persistent"]["removed"] is False
    second, _rule, _state = seen["reserve 9 persistently: the rule exists"]
    assert second["changed"] and second["persistent"]["created"] is False


def test_persistent_and_remove_rule_are_refused_before_any_write(run):
    seen, _reboot, _state = run
    res, rule, state = seen["persistent and remove_rule"]
    assert res["failed"] and not res["changed"]
    assert "persistent=true" in res["msg"] and "remove_rule=true" in res["msg"] and RULES in res["msg"]
    assert (rule, state) == seen["reserve 9 persistently: the rule exists"][1:]


def test_check_mode_shows_the_rule_going_and_writes_nothing(run):
    seen, _reboot, _state = run
    res, rule, state = seen["release 9, remove the rule (check)"]
    assert res["changed"] is True and res["persisted_with"] == "file" and res["persistent"]["removed"] is True
    assert (rule, state) == seen["persistent and remove_rule"][1:]
    rule_diff = res["diff"][-1]
    assert rule_diff["after_header"].endswith(RULES + " (removed)") and rule_diff["after"] == ""
    assert 'ATTR{../../bus/ap/aqmask}="' in rule_diff["before"]


def test_remove_rule_releases_live_and_removes_the_rule(run):
    seen, _reboot, _state = run
    res, rule, state = seen["release 9, remove the rule"]
    assert res["changed"] and rule is None
    assert [w["value"] for w in res["writes"]] == ["+9"] and 9 in state["aqmask"]
    assert res["persistent"]["before"]["aqmask"] == ids_to_mask([0, 1, 2] + list(range(10, 256)))
    assert res["persistent"]["after"] is None and res["persisted_with"] == "file"


@pytest.mark.parametrize("name", ["release 9, remove the rule again", "only remove the rule, none there"])
def test_a_second_run_changes_nothing(run, name):
    seen, _reboot, _state = run
    res, rule, _state = seen[name]
    assert res["changed"] is False and res["writes"] == [] and rule is None
    assert res["persisted_with"] is None and res["persistent"]["removed"] is False


def test_a_rule_that_cannot_be_read_is_removed_all_the_same(run):
    seen, _reboot, _state = run
    res, rule, _state = seen["a rule that cannot be read"]
    assert res["changed"] and rule is None and res["persistent"]["before"] is None


def test_after_the_reboot_the_host_has_the_kernels_masks(run):
    """No rule, no command line: what was reserved only live (3-7, 8) is back with the host drivers."""
    _seen, reboot, state = run
    assert reboot["rules"] == [] and state["aqmask"] == ALL
