"""playbooks/rolling_plan.yml on the rendered demo fleet: the plan, its reports, its exit code, bad input.

The playbook only reads (ap_facts) and writes the reports on the controller; the rendered trees
are plain files, so a run that wrote to them would show in their checksums.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helpers.ansible_run import local_inventory, run_playbook

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "rolling_plan.yml"
HOSTS = ("kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3")


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def inventory(rendered_demo, tmp_path):
    return local_inventory({h: {"vfio_ap_sysroot": str(rendered_demo / h)} for h in HOSTS}, tmp_path / "inventory.yml")


def test_whole_fleet_plan_fails_after_writing_the_reports(inventory, rendered_demo, tmp_path):
    before = tree_digest(rendered_demo)
    out = tmp_path / "out"
    result = run_playbook(
        PLAYBOOK, inventory, extra_vars={"vfio_ap_maintenance_hosts": ",".join(HOSTS), "vfio_ap_maintenance_report_dir": str(out)}
    )
    assert result.rc == 2, result.stdout[-3000:]  # stranded guests fail the job by default
    failed = result.task_results("Fail when a guest would be stranded (vfio_ap_maintenance_fail_when_not_evacuable)")
    message = next(iter(failed.values()))["msg"]
    assert "11 of 15 vfio-ap guests" in message and "db1" in message and "vfio_ap_maintenance_fail_when_not_evacuable=false" in message
    plan = json.loads((out / "rolling-plan.json").read_text())
    assert plan["summary"]["stranded"] == 11 and plan["hosts"] == list(HOSTS)
    assert "### Batch 1:" in (out / "rolling-plan.md").read_text()
    assert (out / "rolling-plan.html").read_text().startswith("<!DOCTYPE html>")
    stats = result.data["custom_stats"]["_run"]["vfio_ap_rolling_plan_summary"]
    assert stats["feasible"] is False and "web1" not in stats["stranded"] and "db1" in stats["stranded"]
    assert stats["report_dir"] == str(out)
    assert tree_digest(rendered_demo) == before, "a plan changes nothing on the hosts"


def test_accepting_stranded_guests_and_a_feasible_plan(inventory, tmp_path):
    extra = {"vfio_ap_maintenance_hosts": "kvm-a1 kvm-b1", "vfio_ap_maintenance_batch_size": 2,
             "vfio_ap_maintenance_fail_when_not_evacuable": False, "vfio_ap_maintenance_report_dir": str(tmp_path / "a")}  # fmt: skip
    accepted = run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    assert accepted.rc == 0, accepted.stdout[-3000:]
    plan = json.loads((tmp_path / "a" / "rolling-plan.json").read_text())
    assert [b["hosts"] for b in plan["batches"]] == [["kvm-a1"], ["kvm-b1"]]  # kvm-b1 takes kvm-a1's guests: not together
    extra = {"vfio_ap_maintenance_hosts": ["kvm-b2"], "vfio_ap_maintenance_enable_migration": True,
             "vfio_ap_maintenance_avoid": "kvm-b1", "vfio_ap_maintenance_report_dir": str(tmp_path / "b")}  # fmt: skip
    feasible = run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    assert feasible.rc == 0, feasible.stdout[-3000:]
    plan = json.loads((tmp_path / "b" / "rolling-plan.json").read_text())
    assert plan["feasible"] and plan["avoid"] == ["kvm-b1"]
    assert {m["guest"]: m["to"] for m in plan["batches"][0]["moves"]} == {"v1app": "kvm-a2", "v1ok": "kvm-a2"}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({}, "set vfio_ap_maintenance_hosts to the hosts to maintain"),
        (
            {"vfio_ap_maintenance_hosts": "kvm-a1", "vfio_ap_maintenance_batch_size": "two"},
            "vfio_ap_maintenance_batch_size must be a positive integer",
        ),
        ({"vfio_ap_maintenance_hosts": "kvm-a1", "vfio_ap_maintenance_order": "random"}, "planned|given"),
        ({"vfio_ap_maintenance_hosts": "kvm-a1,kvm-zz"}, "hosts: kvm-zz not in facts_by_host"),
    ],
)
def test_bad_input_fails_with_one_message(inventory, tmp_path, extra, words):
    result = run_playbook(PLAYBOOK, inventory, extra_vars={**extra, "vfio_ap_maintenance_report_dir": str(tmp_path / "out")})
    assert result.rc == 2
    assert words in result.stdout, result.stdout[-2000:]
    assert not (tmp_path / "out").exists()
