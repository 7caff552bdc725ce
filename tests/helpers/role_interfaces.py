"""Does a role's interface agree with itself? Argument spec, defaults, README tables and tasks.

A role's interface is written down four times: ``meta/argument_specs.yml`` (what Ansible validates,
per entry point), ``defaults/main.yml`` (what the role uses when an input is not given), the README's
``Variables`` and ``Results`` tables (what users read) and the tasks (what the role really reads and
sets). ``role_mismatches`` and ``entry_point_mismatches`` compare them; they are pure: the file texts
go in (a ``RoleTexts``), a list of mismatch strings comes out, each naming the role, the variable
and what disagrees. ``read_role`` reads a role directory into a ``RoleTexts``.

README conventions (checked, so that they stay parseable):

- ``## Variables``: a Markdown table with the columns ``variable`` (the name in backticks),
  ``default`` (a YAML value in backticks, or ``(required)``), ``meaning``, and, when the role has
  more than one entry point, ``entry points`` (the entry points that take it, in backticks).
  A variable with ``choices`` names every choice in backticks in its row.
- ``## Results``: a Markdown table with the columns ``result`` (name in backticks), ``kind``
  (``fact``: set with ``set_fact`` or ``register``; ``set_stats``: published with ``set_stats``),
  ``keys`` (the keys of the value, or of each list item, in backticks; ``-`` for none),
  ``meaning``, and ``entry points`` as above.

Argument spec conventions: the results an entry point sets are named in its ``description`` as
``C(name)``; keys of a result may follow in parentheses right after it, each as ``C(key)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REQUIRED = "(required)"
RESULT_KINDS = ("fact", "set_stats")
_SET_FACT = {"set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact"}
_SET_STATS = {"set_stats", "ansible.builtin.set_stats", "ansible.legacy.set_stats"}
_INCLUDES = {
    "include_tasks",
    "import_tasks",
    "ansible.builtin.include_tasks",
    "ansible.builtin.import_tasks",
    "ansible.legacy.include_tasks",
    "ansible.legacy.import_tasks",
}
_BLOCK_KEYS = ("block", "rescue", "always")
_SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "path": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "list": (list,),
    "dict": (dict,),
}
_CODE = re.compile(r"`([^`]*)`")


class _Loader(yaml.SafeLoader):
    """A safe YAML loader that reads Ansible's custom tags (``!unsafe``, ``!vault``) as plain values."""


def _any_tag(loader: _Loader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _any_tag)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader) if text.strip() else None  # noqa: S506 - a SafeLoader subclass


@dataclass(frozen=True)
class RoleTexts:
    """The texts of one role's files (paths relative to the role directory)."""

    name: str
    argument_specs: str
    defaults: str
    readme: str
    tasks: dict[str, str]  # file name below tasks/ -> text
    vars: str = ""  # vars/main.yml
    handlers: dict[str, str] = field(default_factory=dict)  # file name below handlers/ -> text
    templates: dict[str, str] = field(default_factory=dict)  # file name below templates/ -> text

    @property
    def prefix(self) -> str:
        """Return the prefix of the role's public variables, ``vfio_ap_<role>_``."""
        return f"vfio_ap_{self.name}_"


def read_role(role_dir: Path) -> RoleTexts:
    """Return the RoleTexts of the role in role_dir (missing files read as empty)."""

    def text(rel: str) -> str:
        path = role_dir / rel
        return path.read_text() if path.is_file() else ""

    def texts(sub: str) -> dict[str, str]:
        base = role_dir / sub
        if not base.is_dir():
            return {}
        return {str(p.relative_to(base)): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}

    return RoleTexts(
        name=role_dir.name,
        argument_specs=text("meta/argument_specs.yml"),
        defaults=text("defaults/main.yml"),
        readme=text("README.md"),
        tasks={k: v for k, v in texts("tasks").items() if k.endswith((".yml", ".yaml"))},
        vars=text("vars/main.yml"),
        handlers=texts("handlers"),
        templates=texts("templates"),
    )


# --- parsing ------------------------------------------------------------------------------------


def entry_point_specs(role: RoleTexts) -> dict[str, dict[str, Any]]:
    """Return {entry point: its argument spec} from meta/argument_specs.yml ({} when there is none)."""
    data = _load(role.argument_specs) or {}
    specs = data.get("argument_specs") or {}
    return {str(name): spec or {} for name, spec in specs.items()}


def _split_row(line: str) -> list[str]:
    """Return the cells of a Markdown table row; a ``|`` inside backticks or escaped does not split."""
    cells, cell, in_code, i = [], "", False, 0
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cell += "|"
            i += 2
            continue
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
        i += 1
    cells.append(cell.strip())
    return cells


def markdown_table(text: str, heading: str) -> list[dict[str, str]] | None:
    """Return the rows of the first table in the section titled ``heading`` as {column: cell}.

    Column names are the header cells, lower case. Returns None when the section or its table is
    missing. The section ends at the next heading of the same or a higher level.
    """
    lines = text.splitlines()
    start, level = None, 0
    for index, line in enumerate(lines):
        match = re.match(r"^(#+)\s+(.*?)\s*#*\s*$", line)
        if match and match.group(2).strip().lower() == heading.lower():
            start, level = index + 1, len(match.group(1))
            break
    if start is None:
        return None
    table: list[str] = []
    for line in lines[start:]:
        match = re.match(r"^(#+)\s", line)
        if match and len(match.group(1)) <= level:
            break
        if line.lstrip().startswith("|"):
            table.append(line)
        elif table:
            break
    if len(table) < 2 or not re.fullmatch(r"[\s|:\-]+", table[1]):
        return None
    header = [cell.lower() for cell in _split_row(table[0])]
    return [dict(zip(header, _split_row(line), strict=False)) for line in table[2:]]


def code_spans(cell: str) -> list[str]:
    """Return the contents of the backtick code spans of a Markdown cell, in order."""
    return _CODE.findall(cell)


def _readme_name(row: dict[str, str], column: str) -> str | None:
    spans = code_spans(row.get(column, ""))
    return spans[0] if spans else None


def _description(spec: dict[str, Any]) -> str:
    value = spec.get("description", "")
    return " ".join(value) if isinstance(value, list) else str(value or "")


def _balanced(text: str, start: int) -> str:
    """Return the text of the parenthesised group opening at text[start] ('' when unbalanced)."""
    depth = 0
    for index in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1 : index]
    return ""


def spec_results(role: RoleTexts, spec: dict[str, Any]) -> dict[str, set[str]]:
    """Return {result: keys} the entry point's description promises with ``C(name) (C(key), ...)``.

    Results are the role-prefixed names in C() that are not options of the entry point.
    """
    text = _description(spec)
    options = set((spec.get("options") or {}).keys())
    out: dict[str, set[str]] = {}
    for match in re.finditer(r"C\((" + re.escape(role.prefix) + r"\w+)\)", text):
        name = match.group(1)
        if name in options:
            continue
        keys = out.setdefault(name, set())
        rest = text[match.end() :]
        stripped = rest.lstrip()
        if stripped.startswith("("):
            group = _balanced(rest, len(rest) - len(stripped))
            keys.update(k for k in re.findall(r"C\((\w+)\)", group) if not k.startswith(role.prefix))
    return out


# --- what the tasks do --------------------------------------------------------------------------


@dataclass
class _TaskFacts:
    includes: set[str] = field(default_factory=set)
    facts: set[str] = field(default_factory=set)
    stats: set[str] = field(default_factory=set)


def _walk(tasks: Any, found: _TaskFacts) -> None:
    if not isinstance(tasks, list):
        return
    for task in tasks:
        if not isinstance(task, dict):
            continue
        for key in _BLOCK_KEYS:
            _walk(task.get(key), found)
        for action, args in task.items():
            if action in _SET_FACT and isinstance(args, dict):
                found.facts.update(str(k) for k in args if k != "cacheable")
            elif action in _SET_STATS and isinstance(args, dict) and isinstance(args.get("data"), dict):
                found.stats.update(str(k) for k in args["data"])
            elif action in _INCLUDES:
                target = args.get("file") if isinstance(args, dict) else args
                if isinstance(target, str) and "{{" not in target:
                    found.includes.add(target)
        if isinstance(task.get("register"), str):
            found.facts.add(task["register"])


def _task_facts(text: str) -> _TaskFacts:
    found = _TaskFacts()
    _walk(_load(text), found)
    return found


def reachable_tasks(role: RoleTexts, entry: str) -> list[str]:
    """Return the task files an entry point runs: tasks/<entry>.yml and what it includes, statically."""
    first = entry + ".yml" if entry + ".yml" in role.tasks else entry + ".yaml"
    seen: list[str] = []
    todo = [first]
    while todo:
        name = todo.pop(0)
        if name in seen or name not in role.tasks:
            continue
        seen.append(name)
        todo.extend(sorted(_task_facts(role.tasks[name]).includes))
    return seen


def task_entry_points(role: RoleTexts) -> list[str]:
    """Return the entry points: the spec's, and every task file no other task file includes."""
    included = set()
    for text in role.tasks.values():
        included |= _task_facts(text).includes
    loose = [name.rsplit(".", 1)[0] for name in role.tasks if name not in included and "/" not in name]
    return sorted(set(entry_point_specs(role)) | set(loose))


def _internal_vars(role: RoleTexts) -> dict[str, str]:
    data = _load(role.vars) or {}
    return {str(k): yaml.safe_dump(v) for k, v in data.items()} if isinstance(data, dict) else {}


def entry_point_text(role: RoleTexts, entry: str) -> str:
    """Return what an entry point evaluates: its task files, the handlers, the templates and the
    definitions of the internal (vars/main.yml) variables it uses, transitively."""
    parts = [role.tasks[name] for name in reachable_tasks(role, entry)]
    parts += list(role.handlers.values()) + list(role.templates.values())
    internal = _internal_vars(role)
    used: set[str] = set()
    todo = "\n".join(parts)
    while True:
        new = {n for n in re.findall(r"(?<![\w.])(__\w+)", todo) if n in internal} - used
        if not new:
            break
        used |= new
        todo = "\n".join(internal[n] for n in sorted(new))
        parts.append(todo)
    return "\n".join(parts)


def set_by_entry_point(role: RoleTexts, entry: str) -> dict[str, set[str]]:
    """Return {public result name: kinds} the entry point's tasks set (role-prefixed names only)."""
    out: dict[str, set[str]] = {}
    for name in reachable_tasks(role, entry):
        found = _task_facts(role.tasks[name])
        for kind, names in (("fact", found.facts), ("set_stats", found.stats)):
            for result in names:
                if result.startswith(role.prefix):
                    out.setdefault(result, set()).add(kind)
    return out


_KEEP_ITEMS = ("selectattr", "rejectattr", "sort", "unique", "list", "reverse", "first", "last", "default")
_FILTER = re.compile(r"\s*\|\s*(\w+)(?:\((?:\s*(?:attribute\s*=\s*)?['\"]([\w.]+)['\"])?[^()]*\))?")


def keys_read(text: str, name: str) -> set[str]:
    """Return the keys the text reads from the variable name: ``name.key``, ``name['key']`` and the
    attributes of a filter chain on it (``name | rejectattr('key') | map(attribute='other')``; the
    first part of a dotted attribute). A chain is followed through filters that keep the items."""
    word = re.escape(name) + r"(?!\w)"
    keys = set(re.findall(r"(?<![\w.])" + word + r"\.(\w+)\b(?!\s*\()", text))
    keys |= set(re.findall(r"(?<![\w.])" + word + r"\[\s*['\"](\w+)['\"]\s*\]", text))
    for match in re.finditer(r"(?<![\w.])" + word, text):
        pos = match.end()
        while True:
            step = _FILTER.match(text, pos)
            if not step:
                break
            pos = step.end()
            if step.group(2) and step.group(1) in _KEEP_ITEMS + ("map", "sum", "groupby", "min", "max"):
                keys.add(step.group(2).split(".", 1)[0])
            if step.group(1) not in _KEEP_ITEMS:
                break
    return keys


def _referenced(text: str, prefix: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])(" + re.escape(prefix) + r"\w+)", text))


# --- comparisons --------------------------------------------------------------------------------


def _type_ok(spec_type: str, value: Any) -> bool:
    types = _SPEC_TYPES.get(spec_type)
    if types is None:
        return True
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _value_mismatches(where: str, name: str, option: dict[str, Any], value: Any) -> list[str]:
    """Return what is wrong with a value (a default) for an option: its type, elements, choices."""
    out = []
    spec_type = str(option.get("type", "str"))
    if not _type_ok(spec_type, value):
        out.append(f"{name}: {where} is {value!r} ({type(value).__name__}), the spec's type is {spec_type}")
        return out
    if spec_type == "list" and option.get("elements"):
        bad = [v for v in value if not _type_ok(str(option["elements"]), v)]
        if bad:
            out.append(f"{name}: {where} has elements {bad!r} that are not {option['elements']}")
    choices = option.get("choices")
    if choices is not None:
        values = value if spec_type == "list" else [value]
        outside = [v for v in values if v not in choices]
        if outside:
            out.append(f"{name}: {where} {outside!r} not in the spec's choices {choices!r}")
    return out


def _readme_default(cell: str) -> tuple[bool, Any]:
    """Return (parsed, value) of a README default cell; value is REQUIRED for ``(required)``."""
    if cell.strip() == REQUIRED:
        return True, REQUIRED
    match = re.fullmatch(r"\s*`([^`]*)`\s*", cell)
    if not match:
        return False, None
    try:
        return True, yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return True, match.group(1)


def _same_default(readme: Any, spec: Any) -> bool:
    return readme == spec and type(readme) is type(spec) or (isinstance(spec, str) and str(readme) == spec)


def _entry_cell(row: dict[str, str]) -> set[str] | None:
    cell = row.get("entry points")
    return None if cell is None else set(code_spans(cell))


def role_mismatches(role: RoleTexts) -> list[str]:
    """Return the disagreements of a role as a whole: spec vs defaults/main.yml vs README tables.

    Checks: the same option in two entry points has the same type, elements, default, required and
    choices; a required option has no value in defaults/main.yml; every other option has a spec
    default equal to its defaults/main.yml value, of the spec's type and within its choices; every
    default is a spec option; the README Variables table lists exactly the spec's options with their
    defaults (``(required)``), entry points and choices; the README Results table lists exactly the
    results the tasks set, with their kinds, entry points, and keys that agree with the spec
    description and include every key the tasks read.
    """
    out: list[str] = []
    specs = entry_point_specs(role)
    if not specs:
        return [f"{role.name}: meta/argument_specs.yml has no argument_specs"]
    options: dict[str, dict[str, Any]] = {}
    takes: dict[str, set[str]] = {}
    for entry, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            option = option or {}
            takes.setdefault(name, set()).add(entry)
            if name in options:
                first = options[name]
                for attr in ("type", "elements", "default", "required", "choices"):
                    if first.get(attr) != option.get(attr):
                        out.append(
                            f"{name}: {attr} differs between entry points of meta/argument_specs.yml "
                            f"({sorted(takes[name] - {entry})[0]}: {first.get(attr)!r}, {entry}: {option.get(attr)!r})"
                        )
            else:
                options[name] = option

    defaults = _load(role.defaults) or {}
    if not isinstance(defaults, dict):
        return [f"{role.name}: defaults/main.yml is not a mapping"]
    for name, option in options.items():
        if option.get("required"):
            if "default" in option:
                out.append(f"{name}: required in meta/argument_specs.yml but the spec also gives a default")
            if name in defaults:
                out.append(
                    f"{name}: required in meta/argument_specs.yml but defaults/main.yml sets {defaults[name]!r} "
                    "(a misleading default: a missing input would pass the spec's check)"
                )
            continue
        if "default" not in option:
            out.append(f"{name}: not required in meta/argument_specs.yml and the spec gives no default")
        else:
            out.extend(_value_mismatches("the spec's default", name, option, option["default"]))
        if name not in defaults:
            out.append(f"{name}: not required in meta/argument_specs.yml but missing from defaults/main.yml")
        else:
            out.extend(_value_mismatches("defaults/main.yml", name, option, defaults[name]))
            if "default" in option and defaults[name] != option["default"]:
                out.append(f"{name}: default {option['default']!r} in meta/argument_specs.yml, {defaults[name]!r} in defaults/main.yml")
    for name in defaults:
        if name not in options:
            out.append(f"{name}: set in defaults/main.yml but not an option in meta/argument_specs.yml")

    out.extend(_readme_variable_mismatches(role, options, takes, multi=len(specs) > 1))
    out.extend(_readme_result_mismatches(role, specs))
    return [f"{role.name}: {line}" for line in out]


def _readme_variable_mismatches(role: RoleTexts, options: dict[str, dict[str, Any]], takes: dict[str, set[str]], multi: bool) -> list[str]:
    out: list[str] = []
    rows = markdown_table(role.readme, "Variables")
    if rows is None:
        return ["README.md has no table under a 'Variables' heading"]
    documented: dict[str, dict[str, str]] = {}
    for row in rows:
        name = _readme_name(row, "variable")
        if name is None:
            out.append(f"README.md Variables row without a variable in backticks: {row}")
            continue
        if name in documented:
            out.append(f"{name}: listed twice in the README Variables table")
        documented[name] = row
    for name in options:
        if name not in documented:
            out.append(f"{name}: in meta/argument_specs.yml but not in the README Variables table")
    for name, row in documented.items():
        option = options.get(name)
        if option is None:
            out.append(f"{name}: in the README Variables table but not an option in meta/argument_specs.yml")
            continue
        if "default" not in row:
            out.append("README.md Variables table has no 'default' column")
            break
        parsed, value = _readme_default(row["default"])
        if not parsed:
            out.append(f"{name}: README default {row['default']!r} is neither `value` nor {REQUIRED}")
        elif option.get("required"):
            if value != REQUIRED:
                out.append(f"{name}: required in meta/argument_specs.yml, README default says {row['default']}")
        elif value == REQUIRED:
            out.append(f"{name}: README says {REQUIRED}, meta/argument_specs.yml does not require it")
        elif "default" in option and not _same_default(value, option["default"]):
            out.append(f"{name}: default {option['default']!r} in meta/argument_specs.yml, README says {row['default']}")
        entries = _entry_cell(row)
        if entries is None and multi:
            out.append(f"{name}: the README Variables table needs an 'entry points' column (several entry points)")
        elif entries is not None and entries != takes[name]:
            out.append(f"{name}: README entry points {sorted(entries)}, meta/argument_specs.yml entry points {sorted(takes[name])}")
        named = set(code_spans(" ".join(row.values())))
        missing = [c for c in option.get("choices") or [] if str(c) not in named]
        if missing:
            out.append(f"{name}: the README row does not name the choices {missing} (in backticks)")
    return out


def _readme_result_mismatches(role: RoleTexts, specs: dict[str, dict[str, Any]]) -> list[str]:
    out: list[str] = []
    set_by: dict[str, dict[str, set[str]]] = {}  # result -> entry -> kinds
    promised: dict[str, set[str]] = {}  # result -> keys the spec descriptions name
    all_text = ""
    for entry in task_entry_points(role):
        options = set(((specs.get(entry) or {}).get("options") or {}).keys())
        for name, kinds in set_by_entry_point(role, entry).items():
            if name not in options:
                set_by.setdefault(name, {}).setdefault(entry, set()).update(kinds)
        for name, keys in spec_results(role, specs.get(entry) or {}).items():
            promised.setdefault(name, set()).update(keys)
        all_text += entry_point_text(role, entry) + "\n"
    rows = markdown_table(role.readme, "Results")
    if rows is None:
        if set_by:
            out.append(f"README.md has no table under a 'Results' heading (the tasks set {sorted(set_by)})")
        return out
    documented: dict[str, dict[str, str]] = {}
    for row in rows:
        name = _readme_name(row, "result")
        if name is None:
            out.append(f"README.md Results row without a result in backticks: {row}")
            continue
        documented[name] = row
    for name in sorted(set(set_by) - set(documented)):
        out.append(f"{name}: set by the tasks ({', '.join(sorted(set_by[name]))}) but not in the README Results table")
    for name, row in documented.items():
        if name not in set_by:
            out.append(f"{name}: in the README Results table but no task sets it")
            continue
        kinds = {k for k in RESULT_KINDS if re.search(r"\b" + k + r"\b", row.get("kind", ""))}
        actual_kinds = set().union(*set_by[name].values())
        if kinds != actual_kinds:
            out.append(f"{name}: README kind {sorted(kinds)}, the tasks set it as {sorted(actual_kinds)}")
        entries = _entry_cell(row)
        if entries is not None and entries != set(set_by[name]):
            out.append(f"{name}: README entry points {sorted(entries)}, set by the entry points {sorted(set_by[name])}")
        keys = set(code_spans(row.get("keys", "")))
        if promised.get(name) and promised[name] != keys:
            out.append(
                f"{name}: keys {sorted(promised[name])} in the meta/argument_specs.yml description, README Results keys {sorted(keys)}"
            )
        unread = keys_read(all_text, name) - keys
        if unread:
            out.append(f"{name}: the tasks read the keys {sorted(unread)}, the README Results keys are {sorted(keys)}")
    for name in sorted(set(promised) - set(set_by)):
        out.append(f"{name}: the meta/argument_specs.yml description says the role sets it, no task does")
    return out


def entry_point_mismatches(role: RoleTexts, entry: str) -> list[str]:
    """Return the disagreements of one entry point between its argument spec and its tasks.

    Checks: the entry point has a spec; every option of the spec is used by what the entry point
    runs (its task files, handlers, templates, and the internal variables they use); every
    role-prefixed variable it reads is an option or a result the role sets; every ``O(name)`` of
    the spec's description is an option; every result the description names (``C(name)``) is set by
    the entry point's tasks and every result the tasks set is named there.
    """
    out: list[str] = []
    specs = entry_point_specs(role)
    where = f"{role.name}:{entry}"
    task_file = next((n for n in (entry + ".yml", entry + ".yaml") if n in role.tasks), None)
    if task_file is None:
        return [f"{where}: meta/argument_specs.yml has an entry point without tasks/{entry}.yml"]
    if entry not in specs:
        return [f"{where}: tasks/{task_file} is an entry point (no task file includes it) without an argument spec"]
    spec = specs[entry]
    options = spec.get("options") or {}
    text = entry_point_text(role, entry)
    results = set()
    for other in task_entry_points(role):
        results |= set(set_by_entry_point(role, other))
    for name in options:
        if not re.search(r"(?<![\w.])" + re.escape(name) + r"(?!\w)", text):
            out.append(f"{name}: option of meta/argument_specs.yml that the tasks of this entry point never use")
    for name in sorted(_referenced(text, role.prefix) - set(options) - results):
        out.append(f"{name}: used by the tasks but not an option in meta/argument_specs.yml (an undocumented input)")
    for name in sorted(set(re.findall(r"O\((\w+)(?:=[^)]*)?\)", _description(spec)))):
        if name not in options:
            out.append(f"{name}: O({name}) in the description is not an option of this entry point")
    sets = set_by_entry_point(role, entry)
    promised = spec_results(role, spec)
    for name in sorted(set(promised) - set(sets)):
        out.append(f"{name}: the description says the entry point sets it, its tasks do not")
    for name in sorted(set(sets) - set(promised) - set(options)):
        out.append(f"{name}: set by the tasks but not named as C({name}) in the description")
    return [f"{where}: {line}" for line in out]
