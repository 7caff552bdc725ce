"""The gating workflow of docs/awx.md, run as far as ansible-runner allows.

AWX runs each workflow node's job with ansible-runner and follows the node's "on success" or "on
failure" edge by the job's status, handing the job's set_stats artifacts to the next nodes as extra
vars. Here the nodes are real ansible-runner jobs of a project of one-line wrapper playbooks; the
edges and the artifact hand-over are done the way AWX does them (``run_workflow``). What is tested:
that each job's status is the gate the workflow needs (a fleet not fully audited takes the failure
branch, with the summary the notify job reads; a complete one the success branch; a destination
pattern that matches no host fails its node instead of ending green).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from apsim.fleet import build_fleet, load_fleet
from apsim.render import render_fleet

from helpers.ansible_run import COLLECTIONS, ROOT, local_inventory
from helpers.hang import HANG_GUARD

ansible_runner = pytest.importorskip("ansible_runner", reason="ansible-runner is in tests/requirements/test.txt")

pytestmark = pytest.mark.slow
VENV_BIN = Path(sys.executable).parent

PROJECT = {
    "vfio_ap_audit.yml": "---\n- name: Fleet audit\n  ansible.builtin.import_playbook: s390x.vfio_ap.audit\n",
    "vfio_ap_prepare_destination.yml": (
        "---\n- name: Prepare a destination\n  ansible.builtin.import_playbook: s390x.vfio_ap.prepare_destination\n"
    ),
    # what a site's notify job does with the artifacts it is handed: here, print them
    "vfio_ap_notify.yml": """---
- name: Notify
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Tell the operators
      ansible.builtin.debug:
        msg: "{{ vfio_ap_audit_summary.audit_gaps + (vfio_ap_audit_summary.guests_without_destination | map(attribute='guest') | list) }}"
    - name: Publish what was told
      ansible.builtin.set_stats:
        data: {notified: "{{ vfio_ap_audit_summary.audit_gaps }}"}
        per_host: false
""",
    "vfio_ap_approve.yml": "---\n- name: Approval stand-in\n  hosts: localhost\n  gather_facts: false\n  tasks: []\n",
}


def run_workflow(private: Path, inventory: Path, nodes: dict, start: str) -> tuple[list[tuple[str, str]], dict]:
    """Run the workflow from ``start``: nodes are {name: (playbook, extra vars, {"success"|"failure": next node})}.

    Returns ([(node, status)], the artifacts gathered so far). Each job gets the artifacts of the
    jobs before it as extra vars, as AWX passes them along a workflow.
    """
    path: list[tuple[str, str]] = []
    artifacts: dict = {}
    node = start
    while node is not None:
        playbook, extra, edges = nodes[node]
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=playbook,
            inventory=str(inventory),
            extravars={**artifacts, **extra},
            envvars={
                "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
                "PYTHONPATH": f"{COLLECTIONS}:{ROOT / 'tests'}",
                "ANSIBLE_DEPRECATION_WARNINGS": "0",
                "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            },
            ident=f"{len(path)}-{node}",
            quiet=True,
            timeout=HANG_GUARD,
        )
        assert runner.status in ("successful", "failed"), f"{node}: {runner.status} (a hang?)\n{runner.stdout.read()[-3000:]}"
        path.append((node, runner.status))
        stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
        artifacts.update((stats[-1]["event_data"].get("artifact_data") or {}) if stats else {})
        node = edges.get("success" if runner.status == "successful" else "failure")
    return path, artifacts


NODES = {
    "audit": ("vfio_ap_audit.yml", {"vfio_ap_audit_report_formats": ["json", "markdown"]}, {"success": "approve", "failure": "notify"}),
    "notify": ("vfio_ap_notify.yml", {}, {}),
    "approve": ("vfio_ap_approve.yml", {}, {}),
    "prepare": (
        "vfio_ap_prepare_destination.yml",
        {"vfio_ap_destination_host": "kvm-zz9", "vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_guests": "hsm1"},
        {"success": "approve", "failure": "notify-prepare"},
    ),
    "notify-prepare": ("vfio_ap_approve.yml", {}, {}),
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, demo_fleet_path) -> Path:
    hosts = tmp_path_factory.mktemp("workflow-hosts")
    render_fleet(load_fleet(demo_fleet_path), hosts)
    render_fleet(build_fleet({"hosts": {"kvm-z9": {"ap_bus": False}}}), hosts)  # a sysroot without an AP bus
    return hosts


def project(tmp_path: Path) -> Path:
    private = tmp_path / "job"
    (private / "project").mkdir(parents=True)
    for name, text in PROJECT.items():
        (private / "project" / name).write_text(text)
    return private


def inventory(fleet: Path, path: Path, names: list[str]) -> Path:
    return local_inventory({n: {"vfio_ap_sysroot": str(fleet / n)} for n in names}, path)


DEMO_HOSTS = ["kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3"]


def test_not_fully_audited_takes_the_failure_branch(fleet, tmp_path):
    private = project(tmp_path)
    extra = {**NODES["audit"][1], "vfio_ap_audit_report_dir": str(tmp_path / "reports")}
    nodes = dict(NODES, audit=(NODES["audit"][0], extra, NODES["audit"][2]))
    path, artifacts = run_workflow(private, inventory(fleet, tmp_path / "inventory.yml", [*DEMO_HOSTS, "kvm-z9"]), nodes, "audit")
    assert path == [("audit", "failed"), ("notify", "successful")]
    summary = artifacts["vfio_ap_audit_summary"]  # published before the audit failed, handed to the notify job
    assert summary["fully_audited"] is False and summary["not_fully_audited"] == ["kvm-z9"]
    assert artifacts["notified"] == summary["audit_gaps"] and artifacts["notified"][0].startswith(
        f"kvm-z9: no AP bus under {fleet / 'kvm-z9'} (no sys/bus/ap)"
    )
    assert "Not fully audited: kvm-z9." in (tmp_path / "reports" / "readiness.md").read_text().replace("\\", "")


def test_a_complete_fleet_takes_the_success_branch(fleet, tmp_path):
    private = project(tmp_path)
    extra = {**NODES["audit"][1], "vfio_ap_audit_report_dir": str(tmp_path / "reports")}
    nodes = dict(NODES, audit=(NODES["audit"][0], extra, NODES["audit"][2]))
    path, artifacts = run_workflow(private, inventory(fleet, tmp_path / "inventory.yml", DEMO_HOSTS), nodes, "audit")
    assert path == [("audit", "successful"), ("approve", "successful")]
    assert artifacts["vfio_ap_audit_summary"]["fully_audited"] is True


def test_a_destination_matching_no_host_fails_its_node(fleet, tmp_path):
    private = project(tmp_path)
    path, _artifacts = run_workflow(private, inventory(fleet, tmp_path / "inventory.yml", DEMO_HOSTS), NODES, "prepare")
    assert path == [("prepare", "failed"), ("notify-prepare", "successful")]
    output = (private / "artifacts" / "0-prepare" / "stdout").read_text()
    assert 'vfio_ap_destination_host "kvm-zz9" matches no inventory host' in output
    shutil.rmtree(private / "artifacts", ignore_errors=True)
