"""The roles read as steps: the computing is done by the collection's filters, not by Jinja in the roles.

Table over every file of roles/*/tasks, roles/*/handlers and roles/*/vars:

- no ``set_fact`` runs in a loop (a list or dict accumulated item by item belongs in a filter), also
  not in a task file that ``include_tasks`` runs in a loop, apart from the allow-list below, each
  with its reason;
- no ``{% for %}`` (or any other ``{% %}`` statement) in any template: a filter renders the text;
- no ``vars/main.yml`` value reads a variable that a task of the role sets with ``set_fact`` (it
  would be computed lazily from a fact that does not exist yet, or changes under it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
TASK_FILES = sorted(p for p in ROLES.glob("*/tasks/*.yml")) + sorted(ROLES.glob("*/handlers/*.yml"))
VARS_FILES = sorted(ROLES.glob("*/vars/*.yml"))
LOOP_KEYS = ("loop", "with_items", "with_list", "with_dict", "with_nested", "with_together", "with_subelements",
             "with_sequence", "with_fileglob", "with_first_found", "with_indexed_items", "with_random_choice")  # fmt: skip
SET_FACT = ("set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact")
STATEMENT = re.compile(r"\{%-?\s*\w+")


def _id(path: Path) -> str:
    return str(path.relative_to(ROLES))


def tasks_of(items: Any) -> Iterator[dict[str, Any]]:
    """Yield every task of a task list, descending into block/rescue/always."""
    for task in items or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks_of(task.get(key))


def strings_of(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_of(key)
            yield from strings_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_of(value)


def looped_set_facts(data: Any) -> list[str]:
    """Return the names of the set_fact tasks of a parsed task file that run in a loop."""
    return [t.get("name", "(unnamed)") for t in tasks_of(data) if any(k in t for k in SET_FACT) and any(k in t for k in LOOP_KEYS)]


def template_statements(data: Any) -> list[str]:
    """Return the strings of a parsed YAML file that hold a Jinja statement ({% ... %})."""
    return [s for s in strings_of(data) if STATEMENT.search(s)]


INCLUDE_TASKS = ("include_tasks", "ansible.builtin.include_tasks", "ansible.legacy.include_tasks")
# set_fact tasks that run once per item of an include_tasks loop, allowed on purpose: (task file, task name) -> reason.
ALLOWED_LOOPED = {
    ("maintenance/tasks/prepare_one.yml", "Record the failed preparation"): (
        "one destination is prepared per item by the destination role (include_role cannot run inside a filter); "
        "a failure is rescued and recorded by mdev UUID for the drain's wave_outcomes step"
    ),
    ("maintenance/tasks/prepare_one.yml", "Record how to undo it"): (
        "the undo actions the destination role recorded for that one preparation, kept by mdev UUID for the undo of "
        "a guest that did not move"
    ),
    ("maintenance/tasks/prepare_one.yml", "Forget an earlier preparation's undo (the destination role records this one's)"): (
        "resets the destination role's record before each preparation, so that each UUID gets only its own actions"
    ),
}


def looped_includes(role: Path) -> set[str]:
    """Return the task files of a role (``<role>/tasks/<file>``) that an include_tasks with a loop runs."""
    found = set()
    for path in role.glob("tasks/*.yml"):
        for task in tasks_of(yaml.safe_load(path.read_text())):
            target = next((task[k] for k in INCLUDE_TASKS if k in task), None)
            target = target.get("file") if isinstance(target, dict) else target
            if isinstance(target, str) and any(k in task for k in LOOP_KEYS):
                found.add(f"{role.name}/tasks/{target}")
    return found


def set_facts_of(data: Any) -> list[str]:
    """Return the names of every set_fact task of a parsed task file."""
    return [t.get("name", "(unnamed)") for t in tasks_of(data) if any(k in t for k in SET_FACT)]


def set_names(role: Path) -> set[str]:
    """Return the variables the role's tasks set with set_fact."""
    names = set()
    for path in role.glob("tasks/*.yml"):
        for task in tasks_of(yaml.safe_load(path.read_text())):
            for key in SET_FACT:
                if isinstance(task.get(key), dict):
                    names |= {k for k in task[key] if k != "cacheable"}
    return names


def late_vars(path: Path) -> dict[str, list[str]]:
    """Return {var: [facts]} for the values of a role's vars file that read facts its tasks set with set_fact."""
    late = set_names(path.parent.parent)
    values = yaml.safe_load(path.read_text()) or {}
    found = {}
    for name, value in values.items():
        read = sorted({v for text in strings_of(value) for v in late if re.search(rf"\b{re.escape(v)}\b", text)})
        if read:
            found[name] = read
    return found


def test_the_tables_cover_the_roles():
    assert {p.parent.parent.name for p in TASK_FILES} == {p.name for p in ROLES.iterdir() if p.is_dir()}
    assert len(TASK_FILES) >= 10 and VARS_FILES


@pytest.mark.parametrize("path", TASK_FILES, ids=_id)
def test_no_set_fact_in_a_loop(path):
    looped = looped_set_facts(yaml.safe_load(path.read_text()))
    assert looped == [], f"{_id(path)}: set_fact in a loop (accumulation; use a filter): {looped}"


LOOPED_FILES = sorted({f for role in ROLES.iterdir() if role.is_dir() for f in looped_includes(role)})


@pytest.mark.parametrize("name", LOOPED_FILES)
def test_no_set_fact_in_a_file_included_in_a_loop_but_the_allowed(name):
    found = {(name, task) for task in set_facts_of(yaml.safe_load((ROLES / name).read_text()))}
    assert found <= set(ALLOWED_LOOPED), (
        f"set_fact once per item of an include_tasks loop (use a filter): {sorted(found - set(ALLOWED_LOOPED))}"
    )


def test_the_allow_list_names_tasks_that_exist():
    existing = {(name, task) for name in LOOPED_FILES for task in set_facts_of(yaml.safe_load((ROLES / name).read_text()))}
    assert set(ALLOWED_LOOPED) <= existing and all(ALLOWED_LOOPED.values())


def test_a_looped_include_is_found(tmp_path):
    role = tmp_path / "r"
    (role / "tasks").mkdir(parents=True)
    (role / "tasks" / "main.yml").write_text(
        "- ansible.builtin.include_tasks: one.yml\n  loop: [1, 2]\n- ansible.builtin.include_tasks: {file: two.yml}\n"
        "  with_items: [1]\n- ansible.builtin.include_tasks: three.yml\n"
    )
    assert looped_includes(role) == {"r/tasks/one.yml", "r/tasks/two.yml"}


@pytest.mark.parametrize("path", TASK_FILES + VARS_FILES, ids=_id)
def test_no_template_statements(path):
    statements = template_statements(yaml.safe_load(path.read_text()))
    assert statements == [], f"{_id(path)}: Jinja statements ({{% ... %}}; a filter renders the text): {statements}"


@pytest.mark.parametrize("path", VARS_FILES, ids=_id)
def test_vars_do_not_read_facts_set_later(path):
    found = late_vars(path)
    assert found == {}, f"{_id(path)}: vars computed from facts the tasks set later: {found}"


# The checks must be able to fail: each rule on a file that breaks it.
BROKEN = {
    "set_fact in a loop": (
        '- name: Accumulate\n  ansible.builtin.set_fact:\n    acc: "{{ acc + [item] }}"\n  loop: [1, 2]\n',
        looped_set_facts,
        ["Accumulate"],
    ),
    "set_fact in a loop inside a block's rescue": (
        "- block:\n    - ansible.builtin.debug: {}\n  rescue:\n    - set_fact: {x: 1}\n      with_items: [1]\n",
        looped_set_facts,
        ["(unnamed)"],
    ),
    "set_fact without a loop is fine": ("- ansible.builtin.set_fact: {x: 1}\n", looped_set_facts, []),
    "a for loop in a message": (
        '- ansible.builtin.fail:\n    msg: "{% for c in checks %}{{ c }}{% endfor %}"\n',
        template_statements,
        ["{% for c in checks %}{{ c }}{% endfor %}"],
    ),
    "expressions are fine": ("- ansible.builtin.debug:\n    msg: \"{{ x | join(', ') }}\"\n", template_statements, []),
}


@pytest.mark.parametrize(("text", "rule", "found"), list(BROKEN.values()), ids=list(BROKEN))
def test_the_rules_catch_a_broken_file(text, rule, found):
    assert rule(yaml.safe_load(text)) == found


def test_the_vars_rule_catches_a_late_fact(tmp_path):
    role = tmp_path / "r"
    (role / "tasks").mkdir(parents=True)
    (role / "vars").mkdir()
    (role / "tasks" / "main.yml").write_text("- block:\n    - ansible.builtin.set_fact:\n        __r_checks: []\n")
    (role / "vars" / "main.yml").write_text("__r_actions: \"{{ __r_checks | map(attribute='actions') }}\"\n__r_checks_in: 1\n")
    assert late_vars(role / "vars" / "main.yml") == {"__r_actions": ["__r_checks"]}
