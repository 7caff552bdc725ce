"""s390x.vfio_ap.mdev with real ansible-playbook against live simulated hosts.

Every refusal is a table row run in one playbook: each failing task is bracketed by reads of the
simulator's state (kernel-visible state + write counter) and must leave both exactly as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_config import parse_definition
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import RULES_PATH, render_rules
from apsim.testing import live_fleet_fixture
from helpers.ansible_run import local_inventory, run_playbook

pytestmark = pytest.mark.live

U_HOLD = "a0000000-0000-4000-8000-000000000001"  # 05.0008, idle
U_RUN = "a0000000-0000-4000-8000-000000000002"  # 05.0009, used by running guest web1
U_BARE = "a0000000-0000-4000-8000-000000000003"  # attached to guest app1 but nothing in its guest matrix
U_NEW = "a0000000-0000-4000-8000-0000000000a1"
U_DEF = "a0000000-0000-4000-8000-0000000000d1"  # an inactive auto-start definition holding 06.000e

# Host 'k': APQNs of adapters 0-3 x domains 0-7 belong to the host drivers, the rest to vfio_ap.
FLEET = {
    "hosts": {
        "k": {
            "max_adapter_id": 63,
            "max_domain_id": 15,
            "apmask": "0-3",
            "aqmask": "0-7",
            "cards": [{"id": a, "type": "CEX8C", "domains": "0-15"} for a in (1, 5, 6)],
            "mdevs": [
                {"uuid": U_HOLD, "adapters": [5], "domains": [8], "control_domains": [8]},
                {"uuid": U_RUN, "adapters": [5], "domains": [9], "control_domains": [9], "guest": "web1"},
                {"uuid": U_BARE, "adapters": [6], "guest": "app1"},
            ],
            "definitions": [{"uuid": U_DEF, "start": "auto", "adapters": [6], "domains": [14]}],
        }
    }
}

SNAPSHOT = {"ansible.builtin.set_fact": {"snapshot": "{{ lookup('ansible.builtin.file', state_file) }}"}}


def playbook(cases: list[tuple[str, dict, dict]], module: str = "s390x.vfio_ap.mdev") -> str:
    """Return a playbook running each (name, module args, task keywords), each followed by a state snapshot.

    The snapshot (simulator state + write counter, read on the controller by set_fact: no extra
    module process) before a case is the one after the previous case, or ``initial state``.
    """
    tasks = [{"name": "initial state", **SNAPSHOT}]
    for name, args, keywords in cases:
        tasks.append({"name": name, module: {"sysroot": "{{ sysroot }}", **args}, "ignore_errors": True, **keywords})
        tasks.append({"name": f"after {name}", **SNAPSHOT})
    return yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": tasks}], sort_keys=False)


def snapshots(run, cases: list[tuple[str, dict, dict]], host: str = "k") -> dict[str, tuple[dict, dict]]:
    """Return {case name: (state before, state after)} from a run of playbook(cases)."""

    def read(task):
        value = run.task_results(task)[host]["ansible_facts"]["snapshot"]
        return value if isinstance(value, dict) else json.loads(value)

    out, previous = {}, read("initial state")
    for name, _args, _kw in cases:
        after = read(f"after {name}")
        out[name] = (previous, after)
        previous = after
    return out


def inventory_for(live, work: Path, host: str = "k") -> Path:
    root = live.host_dir(host)
    return local_inventory({host: {"sysroot": str(root), "state_file": str(root.parent / ".apsim" / host / "state")}},
                           work / "inventory.yml")  # fmt: skip


live = live_fleet_fixture(FLEET)

REFUSALS = [
    # (case id, module args, words the message must contain)
    (
        "host-owned APQN",
        {"uuid": U_NEW, "adapters": [1], "domains": [3]},
        ["APQN 01.0003", "reserved for the host drivers", "EADDRNOTAVAIL", "ap_mask"],
    ),
    ("APQN of another mdev", {"uuid": U_NEW, "adapters": [5], "domains": [8, 10]}, ["APQN 05.0008", U_HOLD, "EADDRINUSE"]),
    (
        "APQN of a running guest's mdev",
        {"uuid": U_HOLD, "adapters": [5], "domains": [8, 9]},
        ["APQN 05.0009", U_RUN, "guest web1", "EADDRINUSE"],
    ),
    ("adapter above host max", {"uuid": U_NEW, "adapters": [64], "domains": [8]}, ["adapters", "64", "maximum adapter ID 63", "ENODEV"]),
    (
        "control domain above host max",
        {"uuid": U_NEW, "adapters": [6], "domains": [8], "control_domains": "0x10"},
        ["control_domains", "16", "ENODEV"],
    ),
    ("ID above 255", {"uuid": U_NEW, "adapters": [5], "domains": [256]}, ["domains", "256", "0..255"]),
    ("malformed ID", {"uuid": U_NEW, "adapters": "5,x"}, ["adapters", "'x'", "not a number"]),
    ("malformed UUID", {"uuid": "a0000000-0000-4000-8000-00000000001"}, ["not a canonical UUID"]),
    ("UUID escaping the path", {"uuid": "../../../../etc"}, ["not a canonical UUID"]),
    (
        "control domains without usage domain",
        {"uuid": U_NEW, "adapters": [6], "domains": [], "control_domains": [3]},
        ["without any usage domain", "ap-check"],
    ),
    ("unknown start value", {"uuid": U_NEW, "persistent": True, "start": "boot"}, ["start", "auto, manual"]),
    ("unknown option", {"uuid": U_NEW, "adapter": 5}, ["adapter"]),
    # what ap-check refuses in an auto-start definition, refused before anything is written
    (
        "APQN of another auto-start definition",
        {"uuid": U_NEW, "adapters": [6], "domains": [14], "persistent": True},
        ["APQN 06.000e", "defined for autostart by " + U_DEF, "ap-check"],
    ),
    (
        "APQN owned by the host drivers at boot",
        {"uuid": U_NEW, "adapters": [6], "domains": [12], "persistent": True},
        ["APQN 06.000c", "persistent AP masks", "ap_mask persistent: true"],
    ),
    ("reconfigure in use without force", {"uuid": U_RUN, "domains": [9, 10]}, ["in use by a running guest (web1)", "force: true"]),
    ("remove in use without force", {"uuid": U_RUN, "state": "absent"}, ["in use by a running guest (web1)", "force"]),
    # kernel refusals the pre-checks cannot see: the errno is translated, nothing changes
    (
        "remove in use with force: kernel EBUSY",
        {"uuid": U_RUN, "state": "absent", "force": True},
        ["EBUSY", "a running guest still uses the mdev", "nothing was changed"],
    ),
    (
        "remove of an mdev a running guest names, empty guest matrix",
        {"uuid": U_BARE, "state": "absent"},
        ["in use by a running guest (app1)", "force"],
    ),
]


@pytest.fixture
def fresh_live(tmp_path):
    """The FLEET mounted for this test only (starts from the fleet file's state)."""
    from apsim.live import mounted
    from conftest import require_live

    require_live()
    with mounted(FLEET, tmp_path / "mnt") as mounted_fleet:
        yield mounted_fleet


@pytest.fixture(scope="module")
def refusal_run(live, tmp_path_factory):
    work = tmp_path_factory.mktemp("mdev-refusals")
    # persistent masks: domain 12 still goes to the host drivers at boot (written as chzdev would)
    rules = live.host_dir("k") / RULES_PATH
    rules.write_text(render_rules(list(range(4)) + [6], list(range(8)) + [12]))
    cases = [(name, args, {}) for name, args, _words in REFUSALS]
    cases += [(f"{name} (check mode)", args, {"check_mode": True}) for name, args, _words in REFUSALS[:3]]
    result = run_playbook(playbook(cases), inventory_for(live, work), diff=True)
    assert result.data, result.stdout[-2000:] + result.stderr[-2000:]
    return result, snapshots(result, cases)


@pytest.mark.parametrize(
    "name, args, words",
    REFUSALS + [(f"{n} (check mode)", a, w) for n, a, w in REFUSALS[:3]],
    ids=[r[0] for r in REFUSALS] + [f"{r[0]} (check mode)" for r in REFUSALS[:3]],
)
def test_refusal_fails_with_one_clear_message_and_changes_nothing(refusal_run, name, args, words):
    run, states = refusal_run
    result = run.task_results(name)["k"]
    assert result.get("failed") is True, result
    assert result.get("changed") is not True
    for word in words:
        assert word in result["msg"], result["msg"]
    before, after = states[name]
    assert after["state"] == before["state"]
    assert after["writes"] - before["writes"] == (1 if "kernel EBUSY" in name else 0)


def test_lifecycle_check_mode_create_idempotence_reconfigure_remove(fresh_live, tmp_path):
    live = fresh_live
    cases = [
        ("create (check)", {"uuid": U_NEW, "adapters": [6], "domains": "10-11", "control_domains": [10]}, {"check_mode": True}),
        ("create", {"uuid": U_NEW, "adapters": [6], "domains": "10-11", "control_domains": [10]}, {}),
        ("create again", {"uuid": U_NEW, "adapters": [6], "domains": "0x0a-0x0b", "control_domains": "10"}, {}),
        ("reconfigure (check)", {"uuid": U_NEW, "adapters": [5, 6], "domains": [10]}, {"check_mode": True}),
        ("reconfigure", {"uuid": U_NEW, "adapters": [5, 6], "domains": [10]}, {}),
        ("reconfigure again", {"uuid": U_NEW, "adapters": [5, 6], "domains": [10]}, {}),
        ("keep omitted parts", {"uuid": U_NEW}, {}),
        ("remove (check)", {"uuid": U_NEW, "state": "absent"}, {"check_mode": True}),
        ("remove", {"uuid": U_NEW, "state": "absent"}, {}),
        ("remove again", {"uuid": U_NEW, "state": "absent"}, {}),
        ("force reconfigure of a running guest's mdev", {"uuid": U_RUN, "control_domains": [9, 12], "force": True}, {}),
    ]
    run = run_playbook(playbook(cases), inventory_for(live, tmp_path), diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    states = snapshots(run, cases)

    def step(name):
        return (run.task_results(name)["k"], *states[name])

    res, before, after = step("create (check)")
    assert res["changed"] and res["created"] and res["method"] == "ap_config"
    assert res["diff"]["before"]["active"] is None
    assert res["diff"]["after"]["active"] == {"adapters": [6], "domains": [10, 11], "control_domains": [10]}
    assert after == before, "check mode writes nothing"

    res, before, after = step("create")
    assert res["changed"] and res["created"] and res["before"] is None
    assert res["after"] == {"adapters": [6], "domains": [10, 11], "control_domains": [10]}
    assert after["state"]["mdevs"][U_NEW] | {"guest": None} == {
        "adapters": [6],
        "domains": [10, 11],
        "control_domains": [10],
        "guest": None,
        "migratable": 0,
        "migrating": False,
    }
    assert [w["value"] for w in res["writes"]][0] == U_NEW

    for name in ("create again", "reconfigure again", "keep omitted parts", "remove again"):
        res, before, after = step(name)
        assert res["changed"] is False, name
        assert after == before, f"{name}: a second identical run writes nothing"

    res, before, after = step("reconfigure (check)")
    assert res["changed"] and after == before
    assert res["diff"]["before"]["active"]["adapters"] == [6] and res["diff"]["after"]["active"]["adapters"] == [5, 6]

    res, before, after = step("reconfigure")
    assert res["changed"] and not res["created"]
    assert after["state"]["mdevs"][U_NEW]["adapters"] == [5, 6]
    assert after["state"]["mdevs"][U_NEW]["domains"] == [10]
    assert after["state"]["mdevs"][U_NEW]["control_domains"] == [10], "omitted control_domains are kept"

    res, before, after = step("remove (check)")
    assert res["changed"] and res["removed"] and after == before

    res, before, after = step("remove")
    assert res["changed"] and res["removed"] and res["after"] is None
    assert U_NEW not in after["state"]["mdevs"]

    res, before, after = step("force reconfigure of a running guest's mdev")
    assert res["changed"]
    assert after["state"]["mdevs"][U_RUN]["control_domains"] == [9, 12]
    assert after["state"]["mdevs"][U_RUN]["guest"] == "web1"


def test_persistent_definition_file_when_mdevctl_does_not_manage_the_sysroot(fresh_live, tmp_path):
    live = fresh_live
    root = live.host_dir("k")
    args = {"uuid": U_NEW, "adapters": [6], "domains": [12, 13], "control_domains": [12], "persistent": True,
            "start": "manual"}  # fmt: skip
    cases = [
        ("define (check)", args, {"check_mode": True}),
        ("define", args, {}),
        ("define again", args, {}),
        ("switch to auto", {**args, "start": "auto"}, {}),
        ("undefine", {"uuid": U_NEW, "state": "absent", "persistent": True}, {}),
        ("undefine again", {"uuid": U_NEW, "state": "absent", "persistent": True}, {}),
        ("define for good", args, {}),
    ]
    run = run_playbook(playbook(cases), inventory_for(live, tmp_path), diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    define = run.task_results("define")["k"]
    assert define["persisted_with"] == "file" and define["created"]
    assert run.task_results("define (check)")["k"]["persisted_with"] == "file"
    assert run.task_results("define again")["k"]["changed"] is False
    switched = run.task_results("switch to auto")["k"]
    assert switched["changed"] and switched["writes"] == [] and switched["definition"]["after"]["start"] == "auto"
    assert run.task_results("undefine")["k"]["removed"] is True
    assert run.task_results("undefine again")["k"]["changed"] is False
    assert run.task_results("define for good")["k"]["changed"] is True

    # the file the last run wrote, read back through the collection's mdevctl parser
    text = (root / "etc/mdevctl.d/matrix" / U_NEW).read_text()
    parsed = parse_definition(text)
    assert (parsed["start"], parsed["adapters"], parsed["domains"], parsed["control_domains"]) == ("manual", [6], [12, 13], [12])
    assert '"assign_domain": "12"' in text, "values are written in decimal"
