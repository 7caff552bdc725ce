# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the collection's docsite offline (make docs): antsibull-docs rst, then Sphinx with -W.

The Sphinx project made by ``antsibull-docs sphinx-init`` resolves references to docs.ansible.com
(common return values, configuration settings, other collections' plugins) through intersphinx
inventories it downloads. There is no network here, so this script gives Sphinx a local inventory
instead: a first Sphinx run lists the references it cannot resolve; every one that points outside
this collection is added to the local inventory with its docs.ansible.com address, and Sphinx runs
again. A reference to this collection's own content (``ansible_collections.s390x.vfio_ap.*``) is
never stubbed: it must resolve, or the build fails. Any other Sphinx warning fails the build too.

Plugins whose names start with ``_`` serve the roles only (``[INTERNAL]``): their pages and their
lines in the indexes are left out of the docsite, which lists what users call.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

OWN_PREFIX = "ansible_collections.s390x.vfio_ap."
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
# Labels of the Ansible documentation that antsibull-docs' templates use, with their pages.
KNOWN_PAGES = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "list_of_collections": ("collections/index.html", "Collection Index"),
}
_UNDEFINED = re.compile(r"WARNING: undefined label: '([^']+)'")
_PLUGIN_LABEL = re.compile(r"^ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.([a-z0-9_]+)$")


def page_for(label: str) -> tuple[str, str]:
    """Return (page relative to the Ansible docs root, display name) for a foreign label."""
    if label in KNOWN_PAGES:
        return KNOWN_PAGES[label]
    match = _PLUGIN_LABEL.match(label)
    if match:
        namespace, name, page = match.groups()
        return "collections/{0}/{1}/{2}.html".format(namespace, name, page), label
    return "search.html?q={0}".format(label), label


def is_foreign_undefined(line: str) -> bool:
    """Return whether a Sphinx warning line is an undefined label outside this collection."""
    match = _UNDEFINED.search(line)
    return bool(match) and not match.group(1).startswith(OWN_PREFIX)


def write_inventory(path: Path, labels: set[str]) -> None:
    """Write a Sphinx (version 2) intersphinx inventory holding the given labels."""
    lines = []
    for label in sorted(labels):
        page, title = page_for(label)
        lines.append("{0} std:label -1 {1} {2}\n".format(label, page, title))
    header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
    header += "# The remainder of this file is compressed using zlib.\n"
    path.write_bytes(header.encode() + zlib.compress("".join(lines).encode()))


_INTERNAL_LINE = re.compile(r"^\* :ansplugin:`(?:_\w+ \w+ <)?s390x\.vfio_ap\._\w+#\w+>?`")
_INTERNAL_TOC = re.compile(r"^ +_\w+_(?:module|filter|lookup|test|callback|inventory)$")


def drop_internal(rst: Path) -> list[str]:
    """Remove the internal (``_``-prefixed) plugins' pages and index lines from antsibull-docs' rst; return their pages."""
    pages = sorted(rst.glob("collections/s390x/vfio_ap/_*_*.rst"))
    for page in pages:
        page.unlink()
    for index in [rst / "collections" / "s390x" / "vfio_ap" / "index.rst", *rst.glob("collections/index_*.rst")]:
        lines = index.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not (_INTERNAL_LINE.match(line) or _INTERNAL_TOC.match(line.rstrip("\n")))]
        if kept != lines:
            index.write_text("".join(kept))
    return [page.stem for page in pages]


def sphinx(site: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run sphinx-build on the site; return its exit status and its warnings."""
    proc = subprocess.run(
        ["sphinx-build", "-M", "html", "rst", "build", "-c", ".", "-W", "--keep-going", "-q", "-E"],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def main() -> int:
    """Build <site>/build/html from an antsibull-docs sphinx-init directory; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="directory made by antsibull-docs sphinx-init")
    args = parser.parse_args()
    site = args.site.resolve()
    env = dict(os.environ)
    rst = site / "rst"
    rst.mkdir(exist_ok=True)
    rst.chmod(0o755)
    subprocess.run(
        [
            "antsibull-docs",
            "--config-file",
            "antsibull-docs.cfg",
            "collection",
            "--cleanup",
            "everything",
            "--fail-on-error",
            "--use-current",
            "--dest-dir",
            "rst",
            "s390x.vfio_ap",
        ],
        cwd=site,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    drop_internal(rst)
    inventory = site / "ansible_devel.inv"
    with (site / "conf.py").open("a") as conf:
        conf.write("\n# make docs: offline, one local inventory (tools/docsite/build_docsite.py).\n")
        conf.write("intersphinx_mapping = {{'ansible_devel': ({0!r}, {1!r})}}\n".format(ANSIBLE_DOCS, str(inventory)))
    labels = set(KNOWN_PAGES)
    for attempt in (1, 2):
        write_inventory(inventory, labels)
        status, output = sphinx(site, env)
        warnings = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line]
        foreign = {label for label in _UNDEFINED.findall(output) if not label.startswith(OWN_PREFIX)}
        only_foreign = all(is_foreign_undefined(line) for line in warnings)
        if status == 0 and not warnings:
            print(
                "docsite: {0} pages; {1} references to docs.ansible.com".format(
                    len(list((site / "build" / "html").rglob("*.html"))), len(labels)
                )
            )
            return 0
        if attempt == 1 and foreign - labels and only_foreign:
            labels |= foreign
            continue
        print("docsite: Sphinx reported problems:", file=sys.stderr)
        for line in warnings or output.splitlines()[-20:]:
            print("  " + line, file=sys.stderr)
        return 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
