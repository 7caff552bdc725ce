"""A drain an operator can hand over (issue 20) and whose exit code gates the window (issue 25, item 3).

kvm-a1 of the live demo fleet drains to kvm-b1 through the simulator's virsh, as in
test_role_maintenance.py:

- a tampered approved plan is refused before anything changes, one line per finding;
- a drain killed (``kill -9`` of the whole ansible-playbook process group) just after web1's
  ``virsh migrate`` moved it is finished by the same command run again: web1 is reported
  ``already_moved`` and the source-mdev policy (``undefine``) is applied to it;
- check mode verifies that the migration command exists on the source, and otherwise keeps exit 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import
from helpers.ansible_run import ansible_env, run_playbook
from stress.drain import WRAPPER

from test_role_maintenance import DEMO, HOSTS, PLAYBOOK, WEB1, report, results, runs_on, setup

pytestmark = [pytest.mark.live, pytest.mark.slow]
VIRSH = Path(__file__).resolve().parents[1] / "apsim" / "bin" / "virsh"


def test_a_tampered_approved_plan_changes_nothing(fresh_live_fleet, tmp_path):  # noqa: F811
    live = fresh_live_fleet(DEMO)
    inventory, extra = setup(live, tmp_path)
    planned = run_playbook(PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_execute": False})
    assert planned.rc == 0, planned.stdout[-3000:]
    plan = report(tmp_path)
    web1 = next(i for i, g in enumerate(plan["guests"]) if g["uuid"] == WEB1)
    plan["guests"][web1]["guest"] = "db1"  # web1's UUID, another guest's name
    plan["guests"].append(dict(plan["guests"][web1]))  # and listed twice
    plan["guests"].append({"uuid": None, "guest": None, "source": None, "destination": None, "status": None})
    (tmp_path / "approved.json").write_text(json.dumps(plan))
    writes = {h: live.writes(h) for h in HOSTS}
    states = {h: live.state(h) for h in HOSTS}
    before = (tmp_path / "out" / "evacuation.json").read_bytes()

    refused = run_playbook(PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_plan_file": str(tmp_path / "approved.json")})
    assert refused.rc == 2
    assert "cannot be executed; nothing was changed" in refused.stdout
    assert f"guests[{web1}].guest: the plan names 'db1', but mdev {WEB1} is used by guest 'web1' (kvm-a1)" in refused.stdout
    assert f"guests[6].uuid: {WEB1} is listed again" not in refused.stdout  # the renamed entry itself was refused first
    assert "guests[7].uuid: expected an mdev UUID, got None" in refused.stdout
    assert "object has no attribute" not in refused.stdout and "unhashable" not in refused.stdout
    assert {h: live.writes(h) for h in HOSTS} == writes and {h: live.state(h) for h in HOSTS} == states
    assert (tmp_path / "out" / "evacuation.json").read_bytes() == before
    assert runs_on(live, "kvm-a1") >= {"web1", "db1"}


def drain_in_its_own_group(inventory: Path, extra: dict, log: Path) -> int:
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "-e", json.dumps(extra)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=ansible_env(), cwd=log.parent, start_new_session=True)
        return proc.wait()


def test_a_killed_drain_is_finished_by_running_it_again(fresh_live_fleet, tmp_path):  # noqa: F811
    live = fresh_live_fleet(DEMO)
    inventory, extra = setup(live, tmp_path)
    wrapper = tmp_path / "bin" / "virsh"
    wrapper.parent.mkdir()
    wrapper.write_text(WRAPPER.format(python=sys.executable, virsh=str(VIRSH)))
    wrapper.chmod(0o755)
    env = {**extra["vfio_ap_maintenance_environment"], "PATH": f"{wrapper.parent}:{extra['vfio_ap_maintenance_environment']['PATH']}",
           "DRAIN_KILL_COUNT": str(tmp_path / "count"), "DRAIN_KILL_AT": "1", "DRAIN_KILL_WHEN": "after"}  # fmt: skip
    extra = {**extra, "vfio_ap_maintenance_source_mdev": "undefine", "vfio_ap_maintenance_fail_when_not_empty": False,
             "vfio_ap_maintenance_environment": env}  # fmt: skip
    assert (live.host_dir("kvm-a1") / "etc/mdevctl.d/matrix" / WEB1).exists()

    rc = drain_in_its_own_group(inventory, extra, tmp_path / "killed.log")
    assert rc == -signal.SIGKILL
    # web1 moved, the run died before it knew; the report it wrote when it started says so
    assert "web1" in runs_on(live, "kvm-b1") and "web1" not in runs_on(live, "kvm-a1")
    started = report(tmp_path)
    assert started["finished"] is False and results(started)["web1"][0] == "pending"

    again = run_playbook(PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_environment": {**env, "DRAIN_KILL_AT": "0"}})
    assert again.rc == 0, again.stdout[-3000:]
    document = report(tmp_path)
    web1 = next(g for g in document["guests"] if g["uuid"] == WEB1)
    assert (web1["result"], web1["actual_destination"]) == ("already_moved", "kvm-b1")
    assert web1["cleaned"] == ["active mdev removed", "mdevctl definition removed"]
    assert WEB1 not in live.state("kvm-a1")["mdevs"] and not (live.host_dir("kvm-a1") / "etc/mdevctl.d/matrix" / WEB1).exists()
    assert results(document)["hsm1"][:2] == ("moved", "kvm-b1") and document["finished"] is True
    assert "source mdev: active mdev removed, mdevctl definition removed" in (tmp_path / "out" / "evacuation.md").read_text()


def test_check_mode_looks_for_the_migration_command(fresh_live_fleet, tmp_path):  # noqa: F811
    live = fresh_live_fleet(DEMO)
    inventory, extra = setup(live, tmp_path)
    writes = {h: live.writes(h) for h in HOSTS}
    missing = {**extra, "vfio_ap_maintenance_migrate_command": ["virsh-not-installed", "migrate"]}
    dry = run_playbook(PLAYBOOK, inventory, extra_vars=missing, check=True)
    assert dry.rc == 2
    assert "virsh-not-installed (vfio_ap_maintenance_migrate_command) is not found on kvm-a1" in dry.stdout
    # with it, check mode ends green although kvm-a1 would not be empty (4 stranded guests)
    dry = run_playbook(PLAYBOOK, inventory, extra_vars=extra, check=True)
    assert dry.rc == 0, dry.stdout[-3000:]
    assert report(tmp_path)["mode"] == "check"
    assert {h: live.writes(h) for h in HOSTS} == writes
    assert os.path.exists(tmp_path / "out" / "evacuation.md")
