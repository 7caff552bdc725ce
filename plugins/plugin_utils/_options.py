# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The validators of the options the collection's filters and action plugins take: one rule per kind of option.

Each ``require_*`` returns the value as the code uses it, or raises one ValueError that names the
option, says what it expects and shows what it got. Numbers and booleans follow Ansible: a number
may come as digits in a string (``"2"``, a survey answer), a boolean as ``yes``/``no``/``true``/
``1``/...; a boolean is never a number (``true`` is not a count of 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

# The compatibility rule sets a ``rules`` option names (docs/plan-schema.md).
RULES = ("auto", "attribute", "kernel", "strict")
_NAME_SEPARATORS = re.compile(r"[^,\s]+")


def shown(value: Any, width: int = 60) -> str:
    """Return ``repr(value)`` cut to ``width`` characters (an option's value in a message)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def require_count(value: Any, what: str, minimum: int = 0, default: int | None = None) -> int:
    """Return a whole number >= ``minimum`` (an int, or digits in a string); ``default`` for None when given.

    ValueError for booleans, fractions, negative numbers and anything else.
    """
    if value is None and default is not None:
        return default
    number = int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else value
    if not isinstance(number, int) or isinstance(number, bool) or number < minimum:
        raise ValueError(f"{what}: expected an integer >= {minimum}, got {shown(value)}")
    return number


def require_bool(value: Any, what: str) -> bool:
    """Return a boolean option as Ansible reads it (true/false, yes/no, on/off, 1/0); ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)):
        text = value.strip().lower() if isinstance(value, str) else value
        if text in BOOLEANS_TRUE:
            return True
        if text in BOOLEANS_FALSE:
            return False
    raise ValueError(f"{what}: expected a boolean (true/false, yes/no), got {shown(value)}")


def require_choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` when it is one of ``choices``; ValueError listing them otherwise."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{what}: expected one of {', '.join(choices)}, got {shown(value)}")
    return value


def require_rules(value: Any) -> str:
    """Return a ``rules`` option (one of :data:`RULES`); ValueError otherwise."""
    return require_choice(value, "rules", RULES)


def require_host_name(value: Any, what: str) -> str | None:
    """Return an optional host name option (None when not given); ValueError for anything but a string."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what}: expected a host name, got {type(value).__name__}")
    return value


def require_host_names(value: Any, what: str) -> list[str]:
    """Return a list of host names (one name may be given as a string; duplicates dropped, order kept)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what}: expected a list of inventory host names, got {shown(value)}")
    return list(dict.fromkeys(value))


def require_names(value: Any, what: str, lower: bool = False) -> list[str]:
    """Return the names of a role input: a list, or one string of names separated by commas or blanks.

    ``None`` and ``""`` give no names; ``lower`` folds them to lower case (mdev UUIDs). ValueError
    naming ``what`` for other types.
    """
    if value is None:
        return []
    if isinstance(value, str):
        names = _NAME_SEPARATORS.findall(value)
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{what}: expected a list of names or one comma-separated string, got {shown(value)}")
        names = [str(v) for v in value]
    else:
        raise ValueError(f"{what}: expected a list of names or one comma-separated string, got {type(value).__name__}")
    return [n.lower() for n in names] if lower else names


def require_mapping(value: Any, what: str, shape: str) -> Mapping:
    """Return a mapping option (an empty one for None); ValueError naming the option and its ``shape`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: expected {shape}, got {type(value).__name__}")
    return value
