"""The demo fleet over real SSH connections: facts and the audit with become and no sysroot.

Each host of the live demo fleet is an OpenSSH server on 127.0.0.1 (``apsim ssh-serve``) whose
login sees the host's trees as /sys, /etc/..., /proc/sysinfo; modules run with sudo under the
target Python of the controller's ansible-core (helpers/ssh_fleet.py: 3.6 with 2.16, 3.9 with
2.19, 3.12 with 2.21). What a user relies on: the facts over SSH are the facts of the host (equal
to a local read of its tree), the audit's reports do not depend on forks, the audit writes nothing
to the hosts, check mode and second runs, interpreter discovery without ansible_python_interpreter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.ansible_run import local_inventory, run_playbook
from helpers.ssh_fleet import ssh_fleet_fixture

pytestmark = [pytest.mark.live, pytest.mark.ssh]

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "playbooks" / "audit.yml"
REPORTS = ("readiness.json", "readiness.md", "readiness.html", "readiness.xml")
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"

ssh = ssh_fleet_fixture(ROOT / "tests" / "fleets" / "demo.yml")

GATHER = """\
- name: Gather the AP facts
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather
      s390x.vfio_ap.ap_facts:
        sysroot: "{{ vfio_ap_sysroot | default('/') }}"
"""


def address(_host: str, index: int) -> dict:
    return {"vfio_ap_migration_address": f"192.0.2.{index + 11}"}


@pytest.fixture(scope="module")
def inventory(ssh, tmp_path_factory) -> Path:
    return ssh.inventory_with(tmp_path_factory.mktemp("inv") / "inventory.yml", address)


def gathered(result) -> dict:
    return {host: r["ansible_facts"]["vfio_ap"] for host, r in result.task_results("Gather").items()}


def run_audit(inventory: Path, report_dir: Path, *args: str, check: bool = False):
    result = run_playbook(AUDIT, inventory, extra_vars={"vfio_ap_audit_report_dir": str(report_dir)},
                          args=["--become", *args], check=check)  # fmt: skip
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def reports(report_dir: Path) -> dict[str, str]:
    return {name: (report_dir / name).read_text() for name in REPORTS}


def test_facts_over_ssh_equal_local_facts(ssh, inventory, tmp_path):
    over_ssh = run_playbook(GATHER, inventory, args=["--become"])
    assert over_ssh.rc == 0, over_ssh.stdout[-3000:] + over_ssh.stderr[-2000:]
    local_inv = local_inventory({h: {"vfio_ap_sysroot": str(ssh.live.host_dir(h))} for h in ssh.live.hosts},
                                tmp_path / "local.yml")  # fmt: skip
    local = run_playbook(GATHER, local_inv)
    assert local.rc == 0, local.stdout[-3000:]
    remote_facts, local_facts = gathered(over_ssh), gathered(local)
    assert sorted(remote_facts) == sorted(ssh.live.hosts)
    for host in ssh.live.hosts:
        assert remote_facts[host].pop("sysroot") == "/"
        assert local_facts[host].pop("sysroot") == str(ssh.live.host_dir(host))
        assert remote_facts[host] == local_facts[host], host
        # the identity comes from the host's /etc/machine-id and /proc/sysinfo, not the machine's
        assert remote_facts[host]["host"]["cpc"] and remote_facts[host]["host"]["lpar"], host
    assert len({f["host"]["machine_id"] for f in remote_facts.values()}) == len(ssh.live.hosts)
    # the module really ran under the target Python
    for result in over_ssh.task_results("Gather").values():
        assert not result.get("failed")


def test_audit_forks_check_mode_and_second_run(ssh, inventory, tmp_path):
    hosts = ssh.live.hosts
    before = {h: (ssh.live.writes(h), ssh.live.state(h)) for h in hosts}
    first = run_audit(inventory, tmp_path / "forks1", "--forks", "1")
    document = json.loads((tmp_path / "forks1" / "readiness.json").read_text())
    assert document["not_audited"] == []
    assert (document["summary"]["guests"], document["summary"]["ready"]) == (15, 2)
    hsm1 = next(g for g in document["plan"]["guests"] if g["uuid"] == HSM1)
    assert hsm1["verdict"] == "ready_after"

    six = run_audit(inventory, tmp_path / "forks6", "--forks", "6")
    assert reports(tmp_path / "forks6") == reports(tmp_path / "forks1")
    summaries = [r.data["custom_stats"]["_run"]["vfio_ap_audit_summary"] for r in (first, six)]
    assert [s.pop("report_dir") for s in summaries] == [str(tmp_path / "forks1"), str(tmp_path / "forks6")]
    assert summaries[0] == summaries[1]

    again = run_audit(inventory, tmp_path / "forks6", "--forks", "6", "--diff", check=True)
    assert again.changed_total() == 0
    assert reports(tmp_path / "forks6") == reports(tmp_path / "forks1")
    assert {h: (ssh.live.writes(h), ssh.live.state(h)) for h in hosts} == before


def test_interpreter_discovery(ssh, tmp_path):
    """Without ansible_python_interpreter the controller discovers the host's python3 (once per host)."""
    inventory = ssh.inventory_with(tmp_path / "discover.yml", drop=("ansible_python_interpreter",))
    result = run_playbook(GATHER, inventory, args=["--become", "--limit", "kvm-a1,kvm-b1"],
                          env={"ANSIBLE_PYTHON_INTERPRETER": "auto_silent"})  # fmt: skip
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for host, r in result.task_results("Gather").items():
        discovered = r["ansible_facts"].get("discovered_interpreter_python")
        assert discovered and "python3" in discovered, (host, r)
        assert r["ansible_facts"]["vfio_ap"]["sysroot"] == "/"
