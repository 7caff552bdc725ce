"""A missing required role input fails before any task of the role, with one message naming it.

Required inputs have no value in defaults/main.yml (tests/unit/roles/test_role_interfaces.py checks
that), so Ansible's argument-spec validation, the first task of every entry point, is what refuses
them. The table is every required option of every entry point's argument spec.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.ansible_run import ROOT, local_inventory, run_playbook
from helpers.role_interfaces import entry_point_specs, read_role

DUMMY = {"str": "x", "raw": "x", "list": [], "dict": {}, "int": 1, "bool": False}


def _required() -> list[tuple[str, str, str, dict]]:
    """Return (role, entry point, required option, the other required options with a dummy value)."""
    cases = []
    for role_dir in sorted((ROOT / "roles").iterdir()):
        for entry, spec in entry_point_specs(read_role(role_dir)).items():
            options = spec.get("options") or {}
            required = [name for name, option in options.items() if (option or {}).get("required")]
            for name in required:
                others = {o: DUMMY[str(options[o].get("type", "str"))] for o in required if o != name}
                cases.append((role_dir.name, entry, name, others))
    return cases


REQUIRED = _required()


def test_the_known_required_inputs_are_in_the_table():
    assert {(r, e, n) for r, e, n, _unused in REQUIRED} >= {
        ("destination", "main", "vfio_ap_destination_source"),
        ("destination", "undo", "vfio_ap_destination_undo"),
        ("maintenance", "main", "vfio_ap_maintenance_hosts"),
    }


@pytest.mark.parametrize("role, entry, name, others", REQUIRED, ids=[f"{r}-{e}-{n}" for r, e, n, _unused in REQUIRED])
def test_a_missing_required_input_is_named_before_any_task(tmp_path: Path, role, entry, name, others):
    root = tmp_path / "host"
    root.mkdir()
    inventory = local_inventory({"kvm-x1": {"vfio_ap_sysroot": str(root)}}, tmp_path / "inventory.yml")
    playbook = f"""
- name: Run one entry point without {name}
  hosts: all
  gather_facts: false
  tasks:
    - name: Include the entry point
      ansible.builtin.include_role:
        name: s390x.vfio_ap.{role}
        tasks_from: {entry}
      vars: {others!r}
"""
    result = run_playbook(playbook, inventory)
    assert result.rc != 0
    assert f"missing required arguments: {name}" in result.stdout, result.stdout[-3000:]
    ran = [task["task"]["name"] for play in result.data.get("plays", []) for task in play.get("tasks", [])]
    validation = f"s390x.vfio_ap.{role} : Validating arguments against arg spec '{entry}'"
    assert ran[0] == "Include the entry point" and ran[1:] and all(n.startswith(validation) for n in ran[1:]), ran
    assert list(root.iterdir()) == []
