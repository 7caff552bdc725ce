# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""Variables that look like a role's own but are not: typos that would otherwise be silently ignored.

A role's public variables are named ``vfio_ap_<role>_*`` and declared in its
``meta/argument_specs.yml``. A variable with that prefix that no entry point declares (and that is
not one of the role's results or playbook variables) is almost always a typo, which Ansible ignores:
``vfio_ap_audit_report_directory`` leaves the reports in the default directory.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def declared_options(argument_specs: Any) -> set[str]:
    """Return the option names of every entry point of a role's ``argument_specs`` mapping."""
    names: set[str] = set()
    if not isinstance(argument_specs, Mapping):
        return names
    for entry in argument_specs.values():
        options = entry.get("options") if isinstance(entry, Mapping) else None
        if isinstance(options, Mapping):
            names.update(str(name) for name in options)
    return names


def unknown_variables(names: Iterable[str], role: str, known: Iterable[str]) -> list[tuple[str, str | None]]:
    """Return [(name, nearest known name or None)], sorted, for the ``vfio_ap_<role>_*`` names not in ``known``.

    The nearest name is the known one whose part after the prefix is most alike (difflib ratio 0.6 or more).
    """
    prefix = f"vfio_ap_{role}_"
    valid = {str(k)[len(prefix) :] for k in known if str(k).startswith(prefix)}
    found = []
    for name in sorted({str(n) for n in names}):
        if name.startswith(prefix) and name[len(prefix) :] not in valid:
            near = difflib.get_close_matches(name[len(prefix) :], sorted(valid), n=1, cutoff=0.6)
            found.append((name, prefix + near[0] if near else None))
    return found


def typo_message(name: str, fqcn: str, nearest: str | None) -> str:
    """Return the warning for one unknown variable."""
    text = f"{name} is not a variable of {fqcn}"
    if nearest:
        return f"{text}; did you mean {nearest}?"
    return f"{text} (see its meta/argument_specs.yml or README); it is ignored"
