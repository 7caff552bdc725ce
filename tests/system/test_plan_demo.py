"""ansible-playbook over the rendered demo fleet: gather facts with ap_facts on every host, compute
the plan on the controller with the filters, and check it against the verdicts demo.yml was
designed to produce (tests/fleets/demo.expected.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.ansible_run import local_inventory, run_playbook
from helpers.plan_cells import cell

EXPECTED = yaml.safe_load((Path(__file__).resolve().parents[1] / "fleets" / "demo.expected.yml").read_text())["guests"]
HOSTS = ["kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3"]

PLAYBOOK = """
- name: Readiness of the demo fleet
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather AP facts
      s390x.vfio_ap.ap_facts:
        sysroot: "{{ vfio_ap_sysroot }}"

    - name: Plan
      ansible.builtin.set_fact:
        plan: "{{ hostvars | s390x.vfio_ap.migration_plan(sources=ansible_play_hosts, destinations=ansible_play_hosts,
                  migration_network='fd00:a::/64') }}"
      run_once: true
      delegate_to: localhost

    - name: Check web1 to kvm-b1
      ansible.builtin.set_fact:
        web1: "{{ hostvars['kvm-a1'].ansible_facts.vfio_ap | s390x.vfio_ap.migration_check(
                  hostvars['kvm-b1'].ansible_facts.vfio_ap, '6c1a0000-0000-4000-8000-00000000a101',
                  source='kvm-a1', destination='kvm-b1') }}"
      run_once: true

    - name: Guests with nowhere to go
      ansible.builtin.set_fact:
        stranded: "{{ hostvars | s390x.vfio_ap.migration_plan(sources=ansible_play_hosts,
                      destinations=ansible_play_hosts, query=\\"guests[?verdict=='blocked'].guest\\") }}"
      run_once: true
"""


@pytest.fixture(scope="module")
def play(rendered_demo, tmp_path_factory):
    work = tmp_path_factory.mktemp("plan-play")
    hostvars = {
        name: {"vfio_ap_sysroot": str(rendered_demo / name), "vfio_ap_migration_address": f"fd00:a::{i + 1}"}
        for i, name in enumerate(HOSTS)
    }
    result = run_playbook(PLAYBOOK, local_inventory(hostvars, work / "inventory.yml"))
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _facts(play, task):
    results = play.task_results(task)
    return next(iter(results.values()))["ansible_facts"]


def test_plan_from_gathered_facts_matches_the_fleet_intent(play):
    plan = _facts(play, "Plan")["plan"]
    guests = {g["guest"]: g for g in plan["guests"] if g["guest"]}
    assert set(guests) == set(EXPECTED)
    for name, spec in EXPECTED.items():
        entry = guests[name]
        assert entry["verdict"] == spec["verdict"], name
        for destination, expected in spec["destinations"].items():
            assert cell(entry, destination) == (expected["verdict"], sorted(expected["blockers"])), (name, destination)


def test_plan_commands_bracket_ipv6(play):
    plan = _facts(play, "Plan")["plan"]
    web1 = next(g for g in plan["guests"] if g["guest"] == "web1")
    assert web1["command"] == (
        "virsh migrate --live --persistent --undefinesource --domain web1 --desturi qemu+ssh://kvm-b1/system --migrateuri 'tcp://[fd00:a::4]'"
    )
    legacy3 = next(g for g in plan["guests"] if g["guest"] == "legacy3")
    assert legacy3["command"] is None and legacy3["command_error"]


def test_pair_check_and_query_in_a_play(play):
    web1 = _facts(play, "Check web1 to kvm-b1")["web1"]
    assert web1["ready"] and [w["code"] for w in web1["warnings"]].count("not_persistent") == 1
    assert web1["actions"][0]["type"] == "mdev" and web1["actions"][0]["persistent"] is True
    stranded = _facts(play, "Guests with nowhere to go")["stranded"]
    assert sorted(stranded) == sorted(g for g, spec in EXPECTED.items() if spec["verdict"] == "blocked")
