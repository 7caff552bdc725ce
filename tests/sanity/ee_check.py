# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the execution-environment metadata with ansible-builder (make ee-introspect).

Runs ``ansible-builder introspect`` on a collections root holding a copy of the collection (no
container is built) and fails when it errors, when it does not attribute requirements to
s390x.vfio_ap (meta/execution-environment.yml not read), or when a third-party Python package that
a controller-side plugin (filter, plugin_utils, doc_fragments) imports is missing from the EE's
Python requirements.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

COLLECTION = "s390x.vfio_ap"
CONTROLLER_DIRS = ("plugins/filter", "plugins/plugin_utils", "plugins/doc_fragments", "plugins/lookup")
# Import names whose distribution name differs.
DISTRIBUTION_OF = {"yaml": "pyyaml", "jinja2": "jinja2"}
# Provided by ansible-core itself in every execution environment.
WITH_ANSIBLE_CORE = {"ansible", "ansible_collections", "yaml", "jinja2", "markupsafe", "packaging", "resolvelib"}


def third_party_imports(collection: Path) -> dict[str, str]:
    """Return {top-level module: first file importing it} for non-stdlib imports of controller plugins."""
    found: dict[str, str] = {}
    for sub in CONTROLLER_DIRS:
        for path in sorted((collection / sub).glob("**/*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in WITH_ANSIBLE_CORE:
                        continue
                    found.setdefault(top, str(path.relative_to(collection)))
    return found


def requirement_names(lines: list[str]) -> set[str]:
    """Return the normalised distribution names of pip requirement lines."""
    names = set()
    for line in lines:
        text = line.split("#", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", text)
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def main() -> int:
    """Introspect the collections root; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", type=Path, required=True, help="bin directory holding ansible-builder")
    parser.add_argument("--collections-root", type=Path, required=True, help="directory holding ansible_collections/")
    args = parser.parse_args()
    collection = args.collections_root / "ansible_collections" / "s390x" / "vfio_ap"
    meta = yaml.safe_load((collection / "meta" / "execution-environment.yml").read_text())
    problems = []
    for kind in ("python", "system"):
        dep = (meta.get("dependencies") or {}).get(kind)
        if not dep:
            problems.append("meta/execution-environment.yml names no {0} dependency file".format(kind))
        elif not (collection / dep).is_file():
            problems.append("meta/execution-environment.yml: {0} file {1} does not exist".format(kind, dep))
    with tempfile.TemporaryDirectory() as tmp:
        pip_out, bindep_out = Path(tmp) / "pip.txt", Path(tmp) / "bindep.txt"
        proc = subprocess.run(
            [
                str(args.bin / "ansible-builder"),
                "introspect",
                str(args.collections_root),
                "--write-pip",
                str(pip_out),
                "--write-bindep",
                str(bindep_out),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            print(proc.stdout + proc.stderr)
            print("ee-introspect: ansible-builder introspect failed (exit {0})".format(proc.returncode))
            return 1
        pip_lines = pip_out.read_text().splitlines() if pip_out.exists() else []
        bindep_lines = bindep_out.read_text().splitlines() if bindep_out.exists() else []
    ours = [line for line in pip_lines + bindep_lines if "from collection " + COLLECTION in line]
    if not ours:
        problems.append("ansible-builder attributes no requirement to {0}".format(COLLECTION))
    provided = requirement_names(pip_lines)
    for module, where in sorted(third_party_imports(collection).items()):
        if DISTRIBUTION_OF.get(module, module).lower().replace("_", "-") not in provided:
            problems.append("{0} imports {1}, which the execution environment does not install".format(where, module))
    for problem in problems:
        print("ee-introspect: " + problem)
    if problems:
        return 1
    print(
        "ee-introspect: python: {0}; system: {1}".format(
            ", ".join(line.split("#")[0].strip() for line in pip_lines if line.strip()),
            ", ".join(line.split("#")[0].strip() for line in bindep_lines if line.strip()),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
