"""The drain's action plugin (s390x.vfio_ap._drain): the glue between the maintenance role's tasks and the pure drain code.

What the role's host tasks registered is read under the names in REGISTERED: a test holds those names to
the role's task files, so that renaming a register cannot silently become "the migration did not run".
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from helpers.drain_cases import DEMO, WEB1, host, mdev, migrated, planned_drain, steps_for
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.action import _drain
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._wave_outcomes import HOST_RESULT_KEYS

TASKS = Path(__file__).resolve().parents[4] / "roles" / "maintenance" / "tasks"
OPTIONS = {"rules": "auto", "prepare": True, "per_source": 1, "per_destination": 1, "enable": False, "keep_prepared": False,
           "on_failure": "stop", "command": {"command": ["virsh", "migrate"], "options": ["--live"], "timeout": 300,
                                             "uri": "qemu+ssh://{host}/system"}}  # fmt: skip


def _tasks(items):
    for task in items or []:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from _tasks(task.get(key))


def _set_by_the_role() -> set[str]:
    """Return every variable a task of the maintenance role registers or sets with set_fact."""
    names = set()
    for path in TASKS.glob("*.yml"):
        for task in _tasks(yaml.safe_load(path.read_text())):
            if isinstance(task.get("register"), str):
                names.add(task["register"])
            for key in ("set_fact", "ansible.builtin.set_fact"):
                if isinstance(task.get(key), dict):
                    names |= set(task[key])
    return names


def test_every_variable_the_plugin_reads_is_one_the_role_sets():
    read = {name for names in _drain.REGISTERED.values() for name in names} | set(_drain.KERNEL_FORMATS)
    missing = read - _set_by_the_role()
    assert not missing, f"the drain reads {sorted(missing)}, which no task of roles/maintenance registers or sets"


def test_the_plugin_reads_every_host_result_the_outcomes_use():
    assert set(_drain.REGISTERED) | {"kernel_format", "facts"} == set(HOST_RESULT_KEYS)
    assert set(_drain.host_results({}, ["h"])["h"]) == set(HOST_RESULT_KEYS)


def test_every_step_the_role_runs_is_a_step_of_the_plugin():
    steps = {task["s390x.vfio_ap._drain"]["step"] for path in TASKS.glob("*.yml") for task in _tasks(yaml.safe_load(path.read_text()))
             if "s390x.vfio_ap._drain" in task}  # fmt: skip
    assert steps == set(_drain.STEPS)


def test_host_results():
    hostvars = {
        "kvm-a1": {
            "__vfio_ap_maintenance_migrated": {"results": migrated(0)},
            "__vfio_ap_maintenance_waited": {"skipped": True},
            "ansible_facts": {"vfio_ap": {"x": 1}},
            "__vfio_ap_maintenance_kernel_read": {"skipped": True},
            "__vfio_ap_maintenance_kernel_journal": {"stdout": "log"},
            "__vfio_ap_maintenance_domstate": {"results": [{"ansible_loop_var": "i", "i": "web1", "stdout": "running", "stderr": ""}]},
            "__vfio_ap_maintenance_prepare_errors": {WEB1: "no"},
        },
        "kvm-b1": "garbage",
    }
    got = _drain.host_results(hostvars, ["kvm-a1", "kvm-b1", "kvm-zz"])
    assert got["kvm-a1"]["migrated"] == migrated(0) and got["kvm-a1"]["kernel_log"] == "log"
    assert got["kvm-a1"]["kernel_format"] == "journal" and got["kvm-a1"]["prepare_errors"] == {WEB1: "no"}
    assert got["kvm-a1"]["domstate"] == {"web1": "running"} and got["kvm-a1"]["facts"] == {"x": 1}
    empty = {"prepare_errors": {}, "undo": {}, "migrated": [], "kernel_log": None, "kernel_format": "syslog", "facts": None,
             "domstate": {}, "cleaned": []}  # fmt: skip
    assert got["kvm-b1"] == got["kvm-zz"] == empty


def run(args, task_vars=None, check_mode=False):
    """Return the plugin's result for a task with ``args``."""
    task = SimpleNamespace(args=args, async_val=0, check_mode=check_mode, action="s390x.vfio_ap._drain")
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    action = _drain.ActionModule(task, connection, SimpleNamespace(check_mode=check_mode), None, None, None)
    return action.run(task_vars=task_vars or {})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({**OPTIONS, "per_source": 0}, "vfio_ap_maintenance_per_source: expected an integer >= 1, got 0"),
        ({**OPTIONS, "per_destination": True}, "vfio_ap_maintenance_per_destination: expected an integer >= 1, got True"),
        ({**OPTIONS, "command": {**OPTIONS["command"], "uri": "qemu:///system"}},
         "vfio_ap_maintenance_destination_uri: 'qemu:///system' has no {host}"),
        ({**OPTIONS, "command": {**OPTIONS["command"], "command": []}},
         "vfio_ap_maintenance_migrate_command: expected the migration program and its verb"),
        ({**OPTIONS, "command": {**OPTIONS["command"], "timeout": "soon"}},
         "vfio_ap_maintenance_migrate_timeout (seconds, 0 for none): expected an integer >= 0, got 'soon'"),
    ],
)  # fmt: skip
def test_a_wrong_option_names_the_role_variable_before_anything_is_done(options, message):
    with pytest.raises(AnsibleActionFail) as info:
        run({"step": "order_waves", "evacuation": {"guests": []}, "hosts": [], "options": options})
    assert str(info.value).startswith(f"s390x.vfio_ap.maintenance: {message}") and str(info.value).endswith("; nothing was changed")


def test_an_unknown_step_or_argument_is_refused():
    with pytest.raises(AnsibleActionFail, match="step: expected one of order_waves"):
        run({"step": "migrate"})
    with pytest.raises(AnsibleActionFail, match="Invalid options"):
        run({"step": "drain_report", "hostvars": {}})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    facts = facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo"))
    plan, evacuation = planned_drain(facts)
    return facts, plan, evacuation


def test_a_wave_then_the_report(demo, tmp_path):
    """The steps of one wave as the role runs them, the source mdev's removal added to the run afterwards."""
    facts, plan, evacuation = demo
    hostvars = {h: {"ansible_facts": {"vfio_ap": f}} for h, f in facts.items()}
    hosts = {"hosts": ["kvm-a1"], "options": OPTIONS}
    waves = run(
        {"step": "order_waves", "evacuation": evacuation, "plan": plan, "report_dir": str(tmp_path), **hosts}, {"hostvars": hostvars}
    )
    assert '"pending"' in waves["files"]["evacuation.json"] and waves["changed"] is False
    wave = next(w for w in waves["waves"] if any(g["uuid"] == WEB1 for g in w["guests"]))
    steps = run({"step": "just_in_time", "wave": wave, "fleet": sorted(facts), "options": OPTIONS}, {"hostvars": hostvars})
    assert steps["migrate"]["kvm-a1"][0]["uuid"] == WEB1
    after_a1 = {
        **facts["kvm-a1"],
        "driver": {
            **facts["kvm-a1"]["driver"],
            "mdevs": [{**m, "in_use": False} if m["uuid"] == WEB1 else m for m in facts["kvm-a1"]["driver"]["mdevs"]],
        },
    }
    after_b1 = {**facts["kvm-b1"], "driver": {**facts["kvm-b1"]["driver"], "mdevs": [
        {**m, "in_use": True, "guest_apqns": steps["guests"][0]["check"]["apqns"]} if m["uuid"] == WEB1 else m
        for m in facts["kvm-b1"]["driver"]["mdevs"]]}}  # fmt: skip
    hostvars["kvm-a1"] = {"ansible_facts": {"vfio_ap": after_a1}, "__vfio_ap_maintenance_migrated": {"results": migrated(0)}}
    hostvars["kvm-b1"] = {
        "ansible_facts": {"vfio_ap": after_b1},
        "__vfio_ap_maintenance_domstate": {"results": [{"ansible_loop_var": "i", "i": "web1", "stdout": "running"}]},
    }
    done = run({"step": "wave_outcomes", "steps": steps, "previous": {}, "options": OPTIONS}, {"hostvars": hostvars})
    assert done["outcomes"][WEB1]["result"] == "moved" and done["cleanup"] == {"kvm-a1": [{"uuid": WEB1, "guest": "web1"}]}
    hostvars["kvm-a1"]["__vfio_ap_maintenance_cleaned"] = {
        "results": [{"ansible_loop_var": "x", "x": {"uuid": WEB1}, "removed": True, "definition": {"before": None, "after": None}}]
    }
    report = run({"step": "drain_report", "evacuation": evacuation, "plan": plan, "hosts": ["kvm-a1"], "mode": "execute",
                  "held": waves["held"], "previous": done, "options": OPTIONS, "report_dir": "/r"}, {"hostvars": hostvars})  # fmt: skip
    row = next(g for g in report["report"]["document"]["guests"] if g["uuid"] == WEB1)
    assert (row["result"], row["cleaned"]) == ("moved", ["active mdev removed"])
    assert report["report"]["summary"]["moved"] == ["web1"] and "web1: moved" in "\n".join(report["messages"]["lines"])


def test_a_stopped_run_is_carried_through_the_waves_a_stop_skipped():
    """After a stop, later waves' host tasks register "skipped" results; the run and its cleanup survive them."""
    previous = {"outcomes": {WEB1: {"uuid": WEB1, "result": "moved", "cleaned": []}},
                "cleanup": {"kvm-a1": [{"uuid": WEB1, "guest": "web1"}]}, "undo": {"kvm-b1": ["x"]},
                "guest_failed": True, "stopped": True}  # fmt: skip
    cleaned = {"results": [{"ansible_loop_var": "x", "x": {"uuid": WEB1}, "removed": True, "definition": {}}]}
    hostvars = {"kvm-a1": {"__vfio_ap_maintenance_cleaned": cleaned}}
    skipped = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
    carried = run({"step": "wave_outcomes", "steps": skipped, "previous": previous, "options": OPTIONS}, {"hostvars": hostvars})
    assert carried["stopped"] is True and carried["guest_failed"] is True
    assert (carried["undo"], carried["undo_actions"], carried["cleanup"], carried["moved"]) == ({}, {}, {}, {})
    assert carried["outcomes"][WEB1]["cleaned"] == ["active mdev removed"]
    # the next skipped wave's cleanup register no longer matters: nothing is left to add
    hostvars["kvm-a1"]["__vfio_ap_maintenance_cleaned"] = {"results": [], "skipped": True}
    again = run({"step": "wave_outcomes", "steps": skipped, "previous": carried, "options": OPTIONS}, {"hostvars": hostvars})
    assert again["outcomes"] == carried["outcomes"]


def test_wave_outcomes_wants_the_wave_steps_unless_stopped():
    with pytest.raises(AnsibleActionFail, match="steps: expected the wave's just_in_time step result"):
        run({"step": "wave_outcomes", "steps": {"skipped": True}, "previous": {}, "options": OPTIONS})
    assert (
        run({"step": "wave_outcomes", "steps": steps_for("refuse"), "previous": {}, "options": OPTIONS})["outcomes"][WEB1]["result"]
        == "failed"
    )


def test_read_report(tmp_path):
    assert _drain.read_report(str(tmp_path)) is None and _drain.read_report(None) is None
    (tmp_path / "evacuation.json").write_text('{"guests": []}')
    assert _drain.read_report(str(tmp_path)) == '{"guests": []}'
    (tmp_path / "evacuation.json").write_bytes(b"\xff\xfe")
    assert _drain.read_report(str(tmp_path)) is None


def test_the_check_mode_of_the_task_counts(demo):
    facts, _plan, _evacuation = demo
    result = run({"step": "wave_outcomes", "steps": steps_for("migrate"), "previous": {}, "options": OPTIONS}, {}, check_mode=True)
    assert result["outcomes"][WEB1]["result"] == "would_move"
    assert host(mdev(WEB1, True, [])) and facts  # the fixtures are the demo's
