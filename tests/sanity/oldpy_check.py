# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile and import the modules and module_utils under Python 3.6 and 3.7 (SLES 15, RHEL 8).

ansible-test 2.19 no longer targets these Pythons, so `make sanity` runs this check itself: every
file under plugins/modules and plugins/module_utils is compiled, then imported as
``ansible_collections.s390x.vfio_ap.plugins...`` with the module_utils of the oldest supported
ansible-core (2.16, which still targets 3.6) as the only ``ansible`` package on the path: the same
shape AnsiballZ ships to a host. Exit status 1 lists every failure; a missing interpreter is
reported on one line and skipped.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Runs inside the old interpreter: keep it Python 3.6 syntax.
_CHILD = r"""
import importlib, sys, traceback
failures = []
for path, name in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        with open(path, "rb") as source:
            compile(source.read(), path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        failures.append("{0}:{1}: compile: {2}".format(path, exc.lineno, exc.msg))
        continue
    try:
        importlib.import_module(name)
    except BaseException:
        line = traceback.format_exc().strip().splitlines()[-1]
        failures.append("{0}: import {1}: {2}".format(path, name, line))
for failure in failures:
    print(failure)
sys.exit(1 if failures else 0)
"""


def targets(collection: Path) -> list[tuple[str, str]]:
    """Return (path, dotted module name) for every module and module_util of the collection."""
    found = []
    for sub in ("plugins/module_utils", "plugins/modules"):
        for path in sorted(glob.glob(str(collection / sub / "**" / "*.py"), recursive=True)):
            rel = Path(path).relative_to(collection).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append((path, "ansible_collections.s390x.vfio_ap." + ".".join(parts)))
    return found


def stub_ansible(ansible_venv: Path, where: Path) -> None:
    """Lay out an ``ansible`` package holding only the given venv's module_utils under ``where``."""
    utils = sorted(ansible_venv.glob("lib/python3*/site-packages/ansible/module_utils"))
    if not utils:
        raise SystemExit("oldpy_check: no ansible/module_utils under {0}".format(ansible_venv))
    (where / "ansible").mkdir()
    (where / "ansible" / "__init__.py").write_text("")
    os.symlink(utils[0], where / "ansible" / "module_utils")


def main() -> int:
    """Run the check for each --python VERSION=INTERPRETER; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", type=Path, required=True, help=".../ansible_collections/s390x/vfio_ap")
    parser.add_argument("--ansible-from", type=Path, required=True, help="venv with ansible-core 2.16")
    parser.add_argument("--python", action="append", default=[], metavar="VERSION=PATH")
    args = parser.parse_args()
    collection = args.collection.resolve()
    pairs = targets(collection)
    status = 0
    with tempfile.TemporaryDirectory(prefix="oldpy-") as tmp:
        stub_ansible(args.ansible_from, Path(tmp))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([tmp, str(collection.parents[2])]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LC_ALL": "C.UTF-8",
        }
        for spec in args.python:
            version, _sep, interpreter = spec.partition("=")
            if not interpreter or not os.access(interpreter, os.X_OK):
                print("oldpy_check: Python {0} not found; its compile/import check is skipped".format(version))
                continue
            argv = [interpreter, "-c", _CHILD]
            for path, name in pairs:
                argv += [path, name]
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if proc.returncode:
                status = 1
                print("oldpy_check: Python {0}: FAILED".format(version))
                sys.stdout.write(proc.stdout + proc.stderr)
            else:
                print("oldpy_check: Python {0}: {1} files compile and import".format(version, len(pairs)))
    return status


if __name__ == "__main__":
    sys.exit(main())
