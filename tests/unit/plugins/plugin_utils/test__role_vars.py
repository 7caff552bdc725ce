"""Typos in a role's variables are named with the nearest valid name (plugin_utils/_role_vars.py),
and every entry point of every role warns about them first."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.role_interfaces import read_role, task_entry_points

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._role_vars import declared_options, typo_message, unknown_variables

ROLES = Path(__file__).resolve().parents[4] / "roles"
AUDIT = yaml.safe_load((ROLES / "audit/meta/argument_specs.yml").read_text())["argument_specs"]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["vfio_ap_audit_report_directory"], [("vfio_ap_audit_report_directory", "vfio_ap_audit_report_dir")]),
        (["vfio_ap_audit_fail_on_blocker"], [("vfio_ap_audit_fail_on_blocker", "vfio_ap_audit_fail_on_blockers")]),
        (["vfio_ap_audit_rule"], [("vfio_ap_audit_rule", "vfio_ap_audit_rules")]),
        (["vfio_ap_audit_zzz_qqq"], [("vfio_ap_audit_zzz_qqq", None)]),  # nothing near: no guess
        # declared in any entry point, the role's results, other roles' and other variables: no warning
        (["vfio_ap_audit_report_dir", "vfio_ap_audit_hosts", "vfio_ap_audit_summary", "vfio_ap_destination_x",
          "vfio_ap_sysroot", "__vfio_ap_audit_fleet", "ansible_check_mode"], []),
    ],
)  # fmt: skip
def test_unknown_variables(names, expected):
    known = declared_options(AUDIT) | {"vfio_ap_audit_plan", "vfio_ap_audit_summary"}
    assert unknown_variables(names, "audit", known) == expected


def test_message():
    assert typo_message("vfio_ap_audit_report_directory", "s390x.vfio_ap.audit", "vfio_ap_audit_report_dir") == (
        "vfio_ap_audit_report_directory is not a variable of s390x.vfio_ap.audit; did you mean vfio_ap_audit_report_dir?"
    )


def test_declared_options_of_garbage():
    assert declared_options(None) == set() and declared_options({"main": "x", "other": {"options": None}}) == set()


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir()))
def test_every_entry_point_warns_first(role):
    for entry in task_entry_points(read_role(ROLES / role)):
        tasks = yaml.safe_load((ROLES / role / "tasks" / f"{entry}.yml").read_text())
        assert "s390x.vfio_ap._variable_typos" in tasks[0], f"{role}:{entry} does not start with the typo check"
