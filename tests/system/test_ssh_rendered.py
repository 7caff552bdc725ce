"""The demo fleet over SSH from rendered files (what ``make bench BENCH=audit-ssh`` serves by default).

What the benchmark relies on: served from plain files bound read-only, a host gives over SSH the
facts of a local read of the same tree and the audit the same verdicts, so its figures measure the
collection on the same work as the live mount, without the simulator's FUSE process in the way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.ansible_run import local_inventory, run_playbook
from helpers.needs import require
from helpers.ssh_fleet import served_fleet, ssh_unavailable_reason, target_python, target_version

pytestmark = [pytest.mark.live, pytest.mark.ssh]

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "playbooks" / "audit.yml"
GATHER = """\
- name: Gather the AP facts
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather
      s390x.vfio_ap.ap_facts:
        sysroot: "{{ vfio_ap_sysroot | default('/') }}"
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    require(ssh_unavailable_reason())
    version = target_version()
    python = target_python(version)
    require(None if python else f"Python {version} is not installed under pyenv")
    with served_fleet(ROOT / "tests" / "fleets" / "demo.yml", tmp_path_factory.mktemp("rendered"), "rendered", python) as fleet:
        yield fleet


def _local(fleet, path: Path) -> Path:
    return local_inventory({h: {"vfio_ap_sysroot": str(fleet.host_dir(h))} for h in fleet.hostvars()}, path)


def test_facts_over_ssh_equal_local_facts_of_the_tree(rendered, tmp_path):
    over_ssh = run_playbook(GATHER, rendered.inventory, args=["--become"])
    assert over_ssh.rc == 0, over_ssh.stdout[-3000:] + over_ssh.stderr[-2000:]
    local = run_playbook(GATHER, _local(rendered, tmp_path / "local.yml"))
    assert local.rc == 0, local.stdout[-3000:]
    remote = {h: r["ansible_facts"]["vfio_ap"] for h, r in over_ssh.task_results("Gather").items()}
    here = {h: r["ansible_facts"]["vfio_ap"] for h, r in local.task_results("Gather").items()}
    assert sorted(remote) == sorted(here) == sorted(rendered.hostvars())
    for host in remote:
        assert remote[host].pop("sysroot") == "/"
        assert here[host].pop("sysroot") == str(rendered.host_dir(host))
        assert remote[host] == here[host], host
        assert remote[host]["driver"]["mdevs"] or remote[host]["cards"], host  # the host's trees, not an empty machine


def test_audit_over_ssh_gives_the_local_verdicts(rendered, tmp_path):
    over_ssh = run_playbook(AUDIT, rendered.inventory, extra_vars={"vfio_ap_audit_report_dir": str(tmp_path / "ssh")}, args=["--become"])
    assert over_ssh.rc == 0, over_ssh.stdout[-3000:] + over_ssh.stderr[-2000:]
    local = run_playbook(AUDIT, _local(rendered, tmp_path / "local.yml"), extra_vars={"vfio_ap_audit_report_dir": str(tmp_path / "local")})
    assert local.rc == 0, local.stdout[-3000:]
    ssh_doc = json.loads((tmp_path / "ssh" / "readiness.json").read_text())
    local_doc = json.loads((tmp_path / "local" / "readiness.json").read_text())
    assert ssh_doc["plan"] == local_doc["plan"] and ssh_doc["summary"] == local_doc["summary"]
    assert ssh_doc["summary"]["guests"] > 0
