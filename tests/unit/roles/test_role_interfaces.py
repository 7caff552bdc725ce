"""Every role's argument spec, defaults/main.yml, README tables and tasks agree (helpers.role_interfaces).

The first tests run the comparison over every role and entry point of the tree; the drift table
feeds deliberately drifted copies of a role (in tmp_path) to the same comparison and checks that
the failure names the variable and the mismatch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.role_interfaces import (
    code_spans,
    entry_point_mismatches,
    keys_read,
    markdown_table,
    read_role,
    role_mismatches,
    spec_results,
    task_entry_points,
)

ROLES = Path(__file__).resolve().parents[3] / "roles"
ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir())
ENTRY_POINTS = [(role, entry) for role in ROLE_NAMES for entry in task_entry_points(read_role(ROLES / role))]


def test_every_role_and_its_entry_points_are_covered():
    assert ROLE_NAMES == ["audit", "destination", "maintenance", "migratable"]
    assert ("destination", "undo") in ENTRY_POINTS
    assert {("audit", "gather"), ("audit", "report")} <= set(ENTRY_POINTS)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_role_spec_defaults_and_readme_agree(role):
    assert role_mismatches(read_role(ROLES / role)) == []


@pytest.mark.parametrize("role, entry", ENTRY_POINTS)
def test_entry_point_spec_and_tasks_agree(role, entry):
    assert entry_point_mismatches(read_role(ROLES / role), entry) == []


def _drifted(tmp_path: Path, role: str, edits: list[tuple[str, str, str]]) -> Path:
    """Copy a role to tmp_path and apply (file, old, new) text edits; old must occur (or be '' to append)."""
    dest = tmp_path / role
    shutil.copytree(ROLES / role, dest)
    for rel, old, new in edits:
        path = dest / rel
        text = path.read_text() if path.exists() else ""
        if old:
            assert old in text, f"{rel} no longer contains {old!r}: update the drift case"
            text = text.replace(old, new, 1)
        else:
            text += new
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return dest


DEST_ROW_RULES = "| `vfio_ap_destination_rules` | `main` | `auto` |"
MAINT_ROW_RULES = "| `vfio_ap_maintenance_rules` | `main`, `rolling` | `auto` |"

# (case id, role, edits, entry point or None for the role-wide comparison, words the failure names)
DRIFTS = [
    (
        "defaults-value-differs-from-spec",
        "destination",
        [("defaults/main.yml", "vfio_ap_destination_rules: auto", "vfio_ap_destination_rules: strict")],
        None,
        ["vfio_ap_destination_rules", "'auto' in meta/argument_specs.yml", "'strict' in defaults/main.yml"],
    ),
    (
        "required-input-with-misleading-default",
        "destination",
        [("defaults/main.yml", "", 'vfio_ap_destination_source: ""\n')],
        None,
        ["vfio_ap_destination_source", "required", "defaults/main.yml sets ''"],
    ),
    (
        "required-input-with-misleading-default-maintenance",
        "maintenance",
        [("defaults/main.yml", "", "vfio_ap_maintenance_hosts: []\n")],
        None,
        ["vfio_ap_maintenance_hosts", "required", "defaults/main.yml sets []"],
    ),
    (
        "spec-type-differs-from-default",
        "audit",
        [
            (
                "meta/argument_specs.yml",
                "vfio_ap_audit_limit: &audit_limit\n        type: int",
                "vfio_ap_audit_limit: &audit_limit\n        type: str",
            )
        ],
        None,
        ["vfio_ap_audit_limit", "(int)", "type is str"],
    ),
    (
        "default-outside-choices",
        "migratable",
        [("defaults/main.yml", "vfio_ap_migratable_state: disabled", "vfio_ap_migratable_state: paused")],
        None,
        ["vfio_ap_migratable_state", "not in the spec's choices"],
    ),
    (
        "non-required-option-without-default",
        "migratable",
        [("defaults/main.yml", "vfio_ap_migratable_wait: 30\n", "")],
        None,
        ["vfio_ap_migratable_wait", "missing from defaults/main.yml"],
    ),
    (
        "default-without-spec-option",
        "audit",
        [("defaults/main.yml", "", "vfio_ap_audit_colour: blue\n")],
        None,
        ["vfio_ap_audit_colour", "not an option in meta/argument_specs.yml"],
    ),
    (
        "entry-points-disagree-on-a-default",
        "audit",
        [
            (
                "meta/argument_specs.yml",
                "vfio_ap_audit_gather_subset: *audit_gather_subset",
                "vfio_ap_audit_gather_subset: {type: list, elements: str, default: [mdevs]}",
            )
        ],
        None,
        ["vfio_ap_audit_gather_subset", "default differs between entry points", "['mdevs']"],
    ),
    (
        "readme-default-differs",
        "destination",
        [("README.md", DEST_ROW_RULES, "| `vfio_ap_destination_rules` | `main` | `strict` |")],
        None,
        ["vfio_ap_destination_rules", "README says `strict`"],
    ),
    (
        "readme-says-required-for-an-optional-input",
        "maintenance",
        [("README.md", MAINT_ROW_RULES, "| `vfio_ap_maintenance_rules` | `main`, `rolling` | (required) |")],
        None,
        ["vfio_ap_maintenance_rules", "README says (required)"],
    ),
    (
        "readme-default-for-a-required-input",
        "maintenance",
        [
            (
                "README.md",
                "| `vfio_ap_maintenance_hosts` | `main`, `rolling` | (required) |",
                "| `vfio_ap_maintenance_hosts` | `main`, `rolling` | `[]` |",
            )
        ],
        None,
        ["vfio_ap_maintenance_hosts", "required in meta/argument_specs.yml, README default says `[]`"],
    ),
    (
        "readme-misses-a-variable",
        "migratable",
        [("README.md", "| `vfio_ap_migratable_wait` |", "| `vfio_ap_migratable_waiting` |")],
        None,
        ["vfio_ap_migratable_wait: in meta/argument_specs.yml but not in the README", "vfio_ap_migratable_waiting"],
    ),
    (
        "readme-entry-points-differ",
        "destination",
        [("README.md", "| `vfio_ap_sysroot` | `main`, `undo` |", "| `vfio_ap_sysroot` | `main` |")],
        None,
        ["vfio_ap_sysroot", "README entry points ['main']", "['main', 'undo']"],
    ),
    (
        "readme-leaves-out-a-choice",
        "destination",
        [("README.md", "`attribute`, `kernel`, `strict` (see", "`attribute`, `kernel` (see")],
        None,
        ["vfio_ap_destination_rules", "does not name the choices ['strict']"],
    ),
    (
        "spec-promises-a-result-key-the-tasks-do-not-set",
        "destination",
        [("meta/argument_specs.yml", "C(before), C(actions), C(after))", "C(before), C(actions), C(ready))")],
        None,
        ["vfio_ap_destination_result", "'ready'", "README Results keys"],
    ),
    (
        "readme-result-keys-miss-a-key-the-tasks-read",
        "maintenance",
        [
            ("meta/argument_specs.yml", "(C(document), C(files), C(summary))", "(C(document), C(summary))"),
            ("README.md", "| `document`, `files`, `summary` |", "| `document`, `summary` |"),
        ],
        None,
        ["vfio_ap_maintenance_report", "the tasks read the keys ['files']"],
    ),
    (
        "readme-misses-a-result",
        "maintenance",
        [("README.md", "| `vfio_ap_maintenance_report` | fact | `main` |", "| `vfio_ap_maintenance_reports` | fact | `main` |")],
        None,
        ["vfio_ap_maintenance_report: set by the tasks", "not in the README Results table"],
    ),
    (
        "readme-result-kind-differs",
        "audit",
        [("README.md", "| `vfio_ap_audit_summary` | fact, set_stats |", "| `vfio_ap_audit_summary` | fact |")],
        None,
        ["vfio_ap_audit_summary", "README kind ['fact']", "['fact', 'set_stats']"],
    ),
    (
        "task-reads-an-undocumented-input",
        "destination",
        [("tasks/main.yml", "quiet: true", 'quiet: "{{ vfio_ap_destination_quiet | default(true) }}"')],
        "main",
        ["vfio_ap_destination_quiet", "not an option in meta/argument_specs.yml"],
    ),
    (
        "vars-file-reads-an-undocumented-input",
        "migratable",
        [("vars/main.yml", "vfio_ap_migratable_hook_lib_dir | string", "vfio_ap_migratable_hook_libdir | string")],
        "main",
        ["vfio_ap_migratable_hook_libdir:", "undocumented input"],
    ),
    (
        "spec-option-the-tasks-never-use",
        "destination",
        [
            (
                "meta/argument_specs.yml",
                "  undo:\n",
                "      vfio_ap_destination_wait:\n        type: int\n        default: 5\n        description: Unused.\n  undo:\n",
            )
        ],
        "main",
        ["vfio_ap_destination_wait", "never use"],
    ),
    (
        "option-of-another-entry-point-unused-here",
        "audit",
        [
            (
                "meta/argument_specs.yml",
                "      vfio_ap_audit_gather_subset: *audit_gather_subset\n",
                "      vfio_ap_audit_gather_subset: *audit_gather_subset\n      vfio_ap_audit_title: *audit_title\n",
            )
        ],
        "gather",
        ["vfio_ap_audit_title", "never use"],
    ),
    (
        "description-names-a-result-no-task-sets",
        "migratable",
        [("meta/argument_specs.yml", "Sets C(vfio_ap_migratable_result)", "Sets C(vfio_ap_migratable_results)")],
        "main",
        ["vfio_ap_migratable_results: the description says", "vfio_ap_migratable_result: set by the tasks but not named"],
    ),
    (
        "description-names-an-option-the-entry-point-lacks",
        "audit",
        [
            (
                "meta/argument_specs.yml",
                "when one is configured. Safe under job slicing.",
                "when one is configured, honouring O(vfio_ap_audit_gather).",
            )
        ],
        "gather",
        ["vfio_ap_audit_gather", "O(vfio_ap_audit_gather) in the description is not an option"],
    ),
    (
        "task-file-entry-point-without-spec",
        "destination",
        [("tasks/cleanup.yml", "", '---\n- name: Clean\n  ansible.builtin.debug:\n    msg: "{{ vfio_ap_sysroot }}"\n')],
        "cleanup",
        ["tasks/cleanup.yml is an entry point", "without an argument spec"],
    ),
    (
        "spec-entry-point-without-task-file",
        "maintenance",
        [("meta/argument_specs.yml", "argument_specs:\n", "argument_specs:\n  drain:\n    short_description: x\n    options: {}\n")],
        "drain",
        ["has an entry point without tasks/drain.yml"],
    ),
]


@pytest.mark.parametrize("role, edits, entry, words", [d[1:] for d in DRIFTS], ids=[d[0] for d in DRIFTS])
def test_a_drifted_copy_fails_naming_the_variable_and_the_mismatch(tmp_path, role, edits, entry, words):
    drifted = read_role(_drifted(tmp_path, role, edits))
    found = role_mismatches(drifted) if entry is None else entry_point_mismatches(drifted, entry)
    assert found, "the drift went unnoticed"
    text = "\n".join(found)
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"


@pytest.mark.parametrize(
    "text, heading, expected",
    [
        (
            "# R\n\n## Variables\n\n| variable | default | meaning |\n|---|---|---|\n"
            "| `a` | `x \\| y` | m |\n| `b` | (required) | `p|q` |\n\n## Next\n| z |\n|---|\n| 1 |\n",
            "Variables",
            [
                {"variable": "`a`", "default": "`x | y`", "meaning": "m"},
                {"variable": "`b`", "default": "(required)", "meaning": "`p|q`"},
            ],
        ),
        ("## Variables\n\nno table here\n\n## Results\n| a |\n|---|\n| 1 |\n", "Variables", None),
        ("## Other\n| a |\n|---|\n| 1 |\n", "Variables", None),
        ("### Results ###\n|Result|Kind|\n|:--|--:|\n|`r`|fact|\n", "results", [{"result": "`r`", "kind": "fact"}]),
    ],
    ids=["escaped-and-code-pipes", "section-without-table", "no-section", "closed-heading-and-alignment"],
)
def test_markdown_table(text, heading, expected):
    assert markdown_table(text, heading) == expected


@pytest.mark.parametrize(
    "text, name, keys",
    [
        ("{{ r.files | dict2items }} {{ r['summary'] }} {{ r.document.outcome }}", "r", {"files", "summary", "document"}),
        ("{{ x | rejectattr('after.ready') | map(attribute='guest') }}", "x", {"after", "guest"}),
        ("{{ xs | length }} {{ x.get('a') }} {{ x_other.b }} {{ y.x.c }}", "x", set()),
        ("{{ x | map(attribute='a') | map(attribute='b') }} {{ x | length | map(attribute='c') }}", "x", {"a"}),
        ("{{ x | selectattr('mechanism', 'defined') | selectattr('mechanism', 'eq', 'guard') | list }}", "x", {"mechanism"}),
    ],
    ids=["attributes-and-items", "filters", "methods-and-longer-names", "chain-stops-at-map", "selectattr-tests"],
)
def test_keys_read(text, name, keys):
    assert keys_read(text, name) == keys


def test_spec_results_take_keys_from_the_parentheses_after_the_name():
    role = read_role(ROLES / "destination")
    spec = {
        "description": ["Sets C(vfio_ap_destination_result) (per mdev C(uuid), C(after)) and C(vfio_ap_destination_undo), see C(x)."],
        "options": {"vfio_ap_destination_source": {}},
    }
    assert spec_results(role, spec) == {"vfio_ap_destination_result": {"uuid", "after"}, "vfio_ap_destination_undo": set()}
    assert code_spans("`a`, `b` and c") == ["a", "b"]
