"""s390x.vfio_ap.migratable with real ansible-playbook: the v1 attribute (with EBUSY retries) and the guard record."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, parse_guard, render_guard
from helpers.ansible_run import local_inventory, run_playbook

pytestmark = pytest.mark.live

U_V1 = "d0000000-0000-4000-8000-000000000001"  # v1 host, migratable 1, a migration is running
U_V1B = "d0000000-0000-4000-8000-000000000002"  # v1 host, migratable 0
U_K = "d0000000-0000-4000-8000-000000000003"  # v2+ host, guest web1
U_OTHER = "d0000000-0000-4000-8000-0000000000ee"  # an entry someone else wrote in the guard

FLEET = {
    "hosts": {
        "v1": {
            "migration": "attribute",
            "aqmask": "0-7",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
            "mdevs": [
                {"uuid": U_V1, "adapters": [1], "domains": [8], "guest": "db1", "migratable": 1, "migrating": True},
                {"uuid": U_V1B, "adapters": [1], "domains": [9], "migratable": 0},
            ],
        },
        "v4": {
            "migration": "kernel",
            "aqmask": "0-7",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
            "mdevs": [{"uuid": U_K, "adapters": [1], "domains": [8], "guest": "web1"}],
        },
    }
}
SNAPSHOT = {"ansible.builtin.set_fact": {"snapshot": "{{ lookup('ansible.builtin.file', state_file) }}"}}

CASES = {
    "v1": [
        ("enable (check)", {"uuid": U_V1B, "state": "enabled"}, {"check_mode": True}),
        ("enable", {"uuid": U_V1B, "state": "enabled"}, {}),
        ("enable again", {"uuid": U_V1B, "state": "enabled"}, {}),
        ("disable during a migration", {"uuid": U_V1, "state": "disabled", "wait": 1}, {}),
        ("bad uuid", {"uuid": "D0000000-0000-4000-8000-00000000000"}, {}),
        ("negative wait", {"uuid": U_V1, "wait": -1}, {}),
    ],
    "v4": [
        ("disable (check)", {"uuid": U_K, "reason": "master key change CHG42"}, {"check_mode": True}),
        ("disable", {"uuid": U_K, "reason": "master key change CHG42"}, {}),
        ("disable again", {"uuid": U_K, "reason": "master key change CHG42"}, {}),
        ("enable", {"uuid": U_K, "state": "enabled"}, {}),
        ("enable again", {"uuid": U_K, "state": "enabled"}, {}),
    ],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from apsim.live import mounted
    from conftest import require_live

    require_live()
    work = tmp_path_factory.mktemp("migratable")
    with mounted(FLEET, work / "mnt") as live:
        hostvars = {h: {"sysroot": str(live.host_dir(h)), "state_file": str(live.root / ".apsim" / h / "state")}
                    for h in CASES}  # fmt: skip
        guard = live.host_dir("v4") / GUARD_PATH
        guard.parent.mkdir(parents=True, exist_ok=True)
        guard.write_text(render_guard({U_OTHER: {"migratable": False, "reason": "kept", "guest": None, "changed": None}}))
        plays = []
        for host, cases in CASES.items():
            tasks = [{"name": f"{host}: initial state", **SNAPSHOT}]
            for name, args, keywords in cases:
                tasks.append({"name": f"{host}: {name}", "s390x.vfio_ap.migratable": {"sysroot": "{{ sysroot }}", **args},
                              "ignore_errors": True, **keywords})  # fmt: skip
                tasks.append({"name": f"{host}: after {name}", **SNAPSHOT})
                if host == "v4":
                    tasks.append({"name": f"{host}: guard after {name}",
                                  "ansible.builtin.set_fact": {"guard": "{{ lookup('ansible.builtin.file', sysroot ~ '/"
                                                                        + GUARD_PATH + "') }}"}})  # fmt: skip
            plays.append({"hosts": host, "gather_facts": False, "tasks": tasks})
        result = run_playbook(yaml.safe_dump(plays, sort_keys=False), local_inventory(hostvars, work / "inv.yml"),
                              diff=True)  # fmt: skip
        assert result.data, result.stdout[-3000:] + result.stderr[-3000:]
        yield result


def step(run, host, name):
    def snap(task):
        value = run.task_results(task)[host]["ansible_facts"]["snapshot"]
        return value if isinstance(value, dict) else json.loads(value)

    names = [c[0] for c in CASES[host]]
    index = names.index(name)
    before = snap(f"{host}: initial state") if index == 0 else snap(f"{host}: after {names[index - 1]}")
    return run.task_results(f"{host}: {name}")[host], before, snap(f"{host}: after {name}")


def guard_after(run, name):
    value = run.task_results(f"v4: guard after {name}")["v4"]["ansible_facts"]["guard"]
    return parse_guard(value if isinstance(value, str) else json.dumps(value))


def test_attribute_enable_check_mode_then_write_then_idempotent(run):
    res, before, after = step(run, "v1", "enable (check)")
    assert res["changed"] and res["mechanism"] == "attribute" and after == before
    assert res["diff"] == {"before": {"migratable": False}, "after": {"migratable": True}}
    res, before, after = step(run, "v1", "enable")
    assert res["changed"] and res["migratable"] is True and res["before"] is False
    assert after["state"]["mdevs"][U_V1B]["migratable"] == 1
    res, before, after = step(run, "v1", "enable again")
    assert res["changed"] is False and after == before


def test_attribute_disable_during_a_migration_retries_then_fails_changing_nothing(run):
    res, before, after = step(run, "v1", "disable during a migration")
    assert res["failed"] is True and res["mechanism"] == "attribute"
    assert "EBUSY" in res["msg"] and "guest db1" in res["msg"] and "in progress" in res["msg"]
    assert res["attempts"] >= 2, "the kernel's EBUSY was retried"
    assert after["state"] == before["state"]
    assert after["state"]["mdevs"][U_V1]["migratable"] == 1


@pytest.mark.parametrize("name, words", [("bad uuid", ["not a canonical UUID"]), ("negative wait", ["wait", "negative"])])
def test_bad_input_fails_before_any_write(run, name, words):
    res, before, after = step(run, "v1", name)
    assert res["failed"] is True
    for word in words:
        assert word in res["msg"]
    assert after == before


def test_guard_disable_keeps_other_entries_and_enable_removes_the_entry(run):
    res, before, after = step(run, "v4", "disable (check)")
    assert res["changed"] and res["mechanism"] == "guard"
    assert set(guard_after(run, "disable (check)")) == {U_OTHER}, "check mode wrote nothing"
    res, before, after = step(run, "v4", "disable")
    assert res["changed"] and res["migratable"] is False and res["before"] is True
    entries = guard_after(run, "disable")
    assert entries[U_K]["migratable"] is False and entries[U_K]["guest"] == "web1"
    assert entries[U_K]["reason"] == "master key change CHG42"
    assert entries[U_OTHER]["reason"] == "kept"
    assert after == before, "the guard is not kernel state: no sysfs write"
    res, _before, _after = step(run, "v4", "disable again")
    assert res["changed"] is False and guard_after(run, "disable again") == entries
    res, _before, _after = step(run, "v4", "enable")
    assert res["changed"] and res["migratable"] is True
    assert set(guard_after(run, "enable")) == {U_OTHER}
    res, _before, _after = step(run, "v4", "enable again")
    assert res["changed"] is False
