"""A role input that names something that is not there gets one message: the wrong value, the fix, nothing else.

Each case runs one role on the rendered demo fleet (read only: every refusal comes before any write)
with one wrong input and the others right. The message must name the variable and the wrong value,
suggest the fix (the nearest name, where the guest runs now, what a UUID looks like) and say nothing
about the inputs that were fine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.ansible_run import local_inventory, run_playbook

pytestmark = [pytest.mark.slow]

HOSTS = ("kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3")
UUID_DB1 = "6c1a0000-0000-4000-8000-00000000a102"

# id: (role, play hosts, role vars, texts the message has, texts it must not have)
CASES = {
    "destination: a mistyped source": (
        "destination", "kvm-b1", {"vfio_ap_destination_source": "kvm-a9", "vfio_ap_destination_guests": ["web1"]},
        ["vfio_ap_destination_source: 'kvm-a9' is not a host of the inventory (did you mean kvm-a1?)"],
        ["vfio_ap_destination_guests", "vfio_ap_destination_uuids", "web1"],
    ),
    "destination: no mdev named": (
        "destination", "kvm-b1", {"vfio_ap_destination_source": "kvm-a1"},
        ["vfio_ap_destination_uuids and vfio_ap_destination_guests are both empty", "of kvm-a1"],
        ["is not a host", "an inventory host"],
    ),
    "destination: a mistyped guest": (
        "destination", "kvm-b1", {"vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_guests": ["web1", "hsm2"]},
        ["vfio_ap_destination_guests: no vfio-ap guest named 'hsm2' runs on kvm-a1 (did you mean hsm1?)"],
        ["vfio_ap_destination_source", "'web1'"],
    ),
    "destination: a guest that runs elsewhere now": (
        "destination", "kvm-b1:kvm-a2", {"vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_guests": ["app2"]},
        ["vfio_ap_destination_guests: app2 runs on kvm-a2 now, not on kvm-a1"],
        ["vfio_ap_destination_source", "did you mean"],
    ),
    "destination: not a UUID": (
        "destination", "kvm-b1", {"vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_uuids": ["6c1a-00a1"]},
        ["vfio_ap_destination_uuids: '6c1a-00a1' is not an mdev UUID (8-4-4-4-12 hexadecimal digits"],
        ["vfio_ap_destination_source", "vfio_ap_destination_guests", "runs no"],
    ),
    "destination: only what preparation cannot fix": (
        "destination", "kvm-b1", {"vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_uuids": [UUID_DB1]},
        ["kvm-b1 cannot be made ready for db1 (hw_type_older 00.0005)"],
        ["mdev_missing", "apqn_not_bound", "apqn_not_installed"],
    ),
    "maintenance: a host not in the play": (
        "maintenance", "all", {"vfio_ap_maintenance_hosts": ["kvm-a1", "kvm-a9"]},
        ["vfio_ap_maintenance_hosts: 'kvm-a9' is not a host of this play (did you mean kvm-a1?)"],
        ["'kvm-a1' is", "on_failure", "source_mdev", "limits"],
    ),
    "maintenance: a limit of 0": (
        "maintenance", "all", {"vfio_ap_maintenance_hosts": ["kvm-a1"], "vfio_ap_maintenance_per_source": 0},
        ["vfio_ap_maintenance_per_source must be a positive number, got 0"],
        ["vfio_ap_maintenance_hosts", "per_destination", "job_timeout"],
    ),
    "migratable: a mistyped guest": (
        "migratable", "all", {"vfio_ap_migratable_guests": ["web1", "web9"], "vfio_ap_migratable_state": "disabled"},
        ["vfio_ap_migratable_guests: no vfio-ap guest named 'web9' runs on the hosts of this run (did you mean web1?)"],
        ["vfio_ap_migratable_state", "'web1'"],
    ),
    "migratable: not a UUID": (
        "migratable", "all", {"vfio_ap_migratable_uuids": "web1", "vfio_ap_migratable_state": "disabled"},
        ["vfio_ap_migratable_uuids: 'web1' is not an mdev UUID"],
        ["vfio_ap_migratable_state", "vfio_ap_migratable_guests"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def inventory(rendered_demo, tmp_path_factory) -> Path:
    hosts = {name: {"vfio_ap_sysroot": str(rendered_demo / name)} for name in HOSTS}
    return local_inventory(hosts, tmp_path_factory.mktemp("input-errors") / "inventory.yml")


def _failure_messages(result) -> list[str]:
    return [
        str(res.get("msg"))
        for play in result.data.get("plays", [])
        for task in play.get("tasks", [])
        for res in task.get("hosts", {}).values()
        if res.get("failed")
    ]


@pytest.mark.parametrize(("role", "hosts", "role_vars", "has", "has_not"), list(CASES.values()), ids=list(CASES))
def test_a_wrong_input_is_named_with_its_fix_and_nothing_else(inventory, role, hosts, role_vars, has, has_not):
    playbook = f"""
- name: Run {role} with one wrong input
  hosts: {hosts}
  gather_facts: false
  tasks:
    - name: Include the role
      ansible.builtin.include_role:
        name: s390x.vfio_ap.{role}
      vars: {role_vars!r}
"""
    result = run_playbook(playbook, inventory)
    assert result.rc != 0, result.stdout[-3000:]
    messages = _failure_messages(result)
    assert len(set(messages)) == 1, messages
    for text in has:
        assert text in messages[0], messages[0]
    for text in has_not:
        assert text not in messages[0], messages[0]
