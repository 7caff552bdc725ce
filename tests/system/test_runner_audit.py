"""The audit as AWX runs it: ansible-runner, a project holding the one-line wrapper playbook,
and the set_stats summary in the job's artifact data (what AWX shows as artifacts and hands to
the next workflow node as extra vars).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers.ansible_run import COLLECTIONS, ROOT, local_inventory
from helpers.hang import HANG_GUARD

ansible_runner = pytest.importorskip("ansible_runner", reason="ansible-runner is in tests/requirements/test.txt")

pytestmark = pytest.mark.slow
VENV_BIN = Path(sys.executable).parent


def test_runner_job_artifacts_hold_the_summary(rendered_demo, tmp_path):
    private = tmp_path / "job"
    (private / "project").mkdir(parents=True)
    # the project layout docs/awx.md describes: a wrapper AWX can list, importing the collection playbook
    (private / "project" / "vfio_ap_audit.yml").write_text(
        "---\n- name: Fleet audit\n  ansible.builtin.import_playbook: s390x.vfio_ap.audit\n"
    )
    hosts = {p.name: {"vfio_ap_sysroot": str(p)} for p in sorted(rendered_demo.iterdir()) if (p / "sys").is_dir()}
    inventory = local_inventory(hosts, tmp_path / "inventory.yml")
    report_dir = tmp_path / "reports"

    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook="vfio_ap_audit.yml",
        inventory=str(inventory),
        extravars={"vfio_ap_audit_report_dir": str(report_dir), "vfio_ap_audit_title": "AWX audit"},
        envvars={
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "PYTHONPATH": f"{COLLECTIONS}:{ROOT / 'tests'}",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        },
        ident="audit",
        quiet=True,
        timeout=HANG_GUARD,
    )
    assert runner.status == "successful", runner.stdout.read()[-3000:]
    assert runner.rc == 0

    stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1
    artifact = stats[0]["event_data"]["artifact_data"]["vfio_ap_audit_summary"]
    assert (artifact["guests"], artifact["ready"], artifact["ready_after"], artifact["blocked"]) == (15, 2, 2, 11)
    assert artifact["report_dir"] == str(report_dir)
    assert "hsm1" not in {g["guest"] for g in artifact["guests_without_destination"]}

    assert (private / "artifacts" / "audit" / "status").read_text().strip() == "successful"
    assert (report_dir / "readiness.html").read_text().count("<title>AWX audit</title>") == 1
