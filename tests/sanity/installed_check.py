# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the collection as a user gets it: installed from the built tarball (make build).

With only the fresh collections path visible (no checkout on ANSIBLE_COLLECTIONS_PATH or
PYTHONPATH), it runs ``ansible-doc`` on every module, filter and role the tarball holds, checks
that each plugin file is documented under its own name and that ansible-doc prints no warning,
that every role has a README.md, and that every playbook of the collection passes
``ansible-playbook s390x.vfio_ap.<playbook> --syntax-check``. Exit status 1 lists every failure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

COLLECTION = "s390x.vfio_ap"


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command with the isolated environment and return the completed process."""
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def isolated_env(collections_path: Path) -> dict[str, str]:
    """Return an environment in which Ansible sees only the fresh collections path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_DEPRECATION_WARNINGS": "false",  # evacuation_report is deprecated on purpose (meta/runtime.yml)
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(collections_path.parent / "ansible-tmp"),
            "ANSIBLE_HOME": str(collections_path.parent / "ansible-home"),
        }
    )
    return env


def expected_names(installed: Path) -> dict[str, set[str]]:
    """Return the plugin and role names that the installed files say should be documented."""
    return {
        "module": {p.stem for p in (installed / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_")},
        "filter": {p.stem for p in (installed / "plugins" / "filter").glob("*.py") if not p.stem.startswith("_")},
        "role": {p.name for p in (installed / "roles").iterdir() if p.is_dir()} if (installed / "roles").is_dir() else set(),
    }


def main() -> int:
    """Check the installed collection; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections-path", type=Path, required=True)
    parser.add_argument("--bin", type=Path, required=True, help="bin directory of the ansible-core to use")
    args = parser.parse_args()
    fresh = args.collections_path.resolve()
    installed = fresh / "ansible_collections" / "s390x" / "vfio_ap"
    if not (installed / "galaxy.yml").is_file() and not (installed / "MANIFEST.json").is_file():
        print("installed: {0} holds no installed s390x.vfio_ap".format(fresh))
        return 1
    env = isolated_env(fresh)
    problems = []
    checked = 0
    for kind, names in expected_names(installed).items():
        listing = run([str(args.bin / "ansible-doc"), "-t", kind, "-l", COLLECTION, "--json"], env)
        listed = set()
        if listing.returncode == 0:
            listed = {name.split(".")[-1] for name in json.loads(listing.stdout or "{}")}
        else:
            problems.append("ansible-doc -t {0} -l {1}: {2}".format(kind, COLLECTION, listing.stderr.strip()))
        for name in sorted(names - listed) if kind != "filter" else []:
            problems.append("{0} {1} is in the tarball but ansible-doc does not list it".format(kind, name))
        for name in sorted(names | listed):
            fqcn = "{0}.{1}".format(COLLECTION, name)
            doc = run([str(args.bin / "ansible-doc"), "-t", kind, "--json", fqcn], env)
            checked += 1
            noise = [line for line in doc.stderr.splitlines() if "[WARNING]" in line or "[ERROR]" in line]
            data = json.loads(doc.stdout) if doc.returncode == 0 and doc.stdout.strip() else {}
            if doc.returncode or not data.get(fqcn) or noise:
                problems.append("ansible-doc -t {0} {1}: {2}".format(kind, fqcn, (doc.stderr.strip() or "no documentation")))
            elif str(installed) not in json.dumps(data[fqcn]):
                problems.append("ansible-doc -t {0} {1} did not read the installed copy".format(kind, fqcn))
    for role in sorted(expected_names(installed)["role"]):
        if not (installed / "roles" / role / "README.md").is_file():
            problems.append("role {0} has no README.md (galaxy-importer rejects the collection)".format(role))
    playbooks = sorted(p.stem for p in (installed / "playbooks").glob("*.yml")) if (installed / "playbooks").is_dir() else []
    for playbook in playbooks:
        fqcn = "{0}.{1}".format(COLLECTION, playbook)
        check = run([str(args.bin / "ansible-playbook"), "-i", "localhost,", fqcn, "--syntax-check"], env)
        if check.returncode:
            problems.append("ansible-playbook {0} --syntax-check: {1}".format(fqcn, (check.stderr or check.stdout).strip()))
    for problem in problems:
        print("installed: " + problem)
    if problems:
        return 1
    print("installed: {0} plugin/role docs and {1} playbook syntax checks pass from {2}".format(checked, len(playbooks), fresh))
    return 0


if __name__ == "__main__":
    sys.exit(main())
