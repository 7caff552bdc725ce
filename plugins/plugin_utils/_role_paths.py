# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""Path inputs of the roles: normalized paths, so that no write a role makes can leave ``vfio_ap_sysroot``.

A path input is refused before anything is written when it is not a non-empty string or holds an
empty, ``.`` or ``..`` part. The sysroot itself must be absolute (``/`` is); a path below it may start
with ``/`` (ignored) but must not end with one.
"""

from __future__ import annotations

import json
from typing import Any

_EXAMPLE = "etc/libvirt/hooks/vfio_ap"


def path_problem(name: str, value: Any, absolute: bool = False) -> str:
    """Return the message for a path input ``name`` that is not a normalized path, else "".

    ``absolute``: the path must start with ``/`` (the sysroot); otherwise it is a path below the sysroot.
    """
    if isinstance(value, str) and value:
        parts = value.lstrip("/").split("/")
        if absolute and not value.startswith("/"):
            pass
        elif absolute and not value.rstrip("/"):
            return ""  # "/" (or "//"): the root itself
        elif not {"", ".", ".."} & set(parts):
            return ""
    shown = json.dumps(value) if isinstance(value, str) else json.dumps(value, default=repr)
    if absolute:
        return f"{name}: {shown} is not an absolute normalized path (no empty, '.' or '..' parts)"
    return f"{name}: {shown} is not a normalized path below vfio_ap_sysroot (no empty, '.' or '..' parts, for example {_EXAMPLE})"


def path_problems(paths: Any, absolute: Any = ()) -> list[str]:
    """Return one message per path input of ``paths`` ({name: value}) that is not normalized; names in ``absolute`` are absolute."""
    if not isinstance(paths, dict):
        raise ValueError(f"expected {{input name: path}}, got {type(paths).__name__}")
    absolute = {absolute} if isinstance(absolute, str) else set(absolute or ())
    return [m for name, value in paths.items() if (m := path_problem(str(name), value, str(name) in absolute))]
