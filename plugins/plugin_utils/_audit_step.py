# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The audit's controller step: the fleet's facts, the plan, its summary and the report files, in one go.

The audit role gathers facts per host; everything after that needs the whole fleet and runs once on
the controller (the ``s390x.vfio_ap._audit_reports`` action). ``audit_step`` computes what the role
publishes (``fleet_facts``, ``build_plan``, ``readiness_summary``, ``readiness_report``: the functions the
filters of the same names call); ``write_reports`` writes the files, each only when its text changed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import (
    DIR_MODE,
    FILE_MODE,
    HostPathError,
    ensure_dir,
    os_error,
    replace_file,
)
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import fleet_facts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reports import readiness_report, readiness_summary


def audit_step(
    host_vars: Mapping[str, Any],
    hosts: Iterable[str],
    rules: str = "auto",
    limit: Any = None,
    nearest: Any = None,
    migration_network: Any = None,
    report_dir: str | None = None,
    formats: Iterable[str] = (),
    title: str = "vfio-ap live-migration readiness",
) -> dict[str, Any]:
    """Return {plan, summary, not_audited, files} of the audit of ``hosts`` from their variables (``host_vars``).

    ``files`` is {file name: text} of the reports in ``formats``. ValueError naming what is wrong,
    prefixed by the filter whose input it is.
    """
    try:
        fleet = fleet_facts(host_vars, list(hosts))
    except ValueError as exc:
        raise ValueError(f"s390x.vfio_ap._fleet_facts: {exc}") from exc
    try:
        plan = build_plan(
            host_vars, hosts=fleet["gathered"], rules=rules, limit=limit, nearest=nearest, migration_network=migration_network
        )
    except ValueError as exc:
        raise ValueError(f"s390x.vfio_ap.migration_plan: {exc}") from exc
    missing = fleet["missing"]
    try:
        summary = readiness_summary(plan, not_audited=missing, report_dir=report_dir)
        files = readiness_report(plan, list(formats), title, missing) if formats else {}
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"s390x.vfio_ap.readiness_report: {exc}") from exc
    return {"plan": plan, "summary": summary, "not_audited": missing, "files": files}


def write_reports(directory: str, files: Mapping[str, str]) -> list[str]:
    """Write each file {name: text} into ``directory`` (created 0755 with its missing parents); return the paths changed.

    A file is replaced atomically (0644) only when its text differs; one with the same text keeps it
    and gets mode 0644. Raises HostPathError naming the path and the errno in words.
    """
    changed = ensure_dir("/", directory)
    try:
        if (os.stat(directory).st_mode & 0o7777) != DIR_MODE:
            os.chmod(directory, DIR_MODE)
            changed.append(directory)
    except OSError as exc:
        raise os_error("set the mode of", directory, exc) from None
    for name, text in files.items():
        path = os.path.join(directory, name)
        data = text.encode("utf-8")
        if _content(path) == data:
            if (os.lstat(path).st_mode & 0o7777) != FILE_MODE:
                try:
                    os.chmod(path, FILE_MODE)
                except OSError as exc:
                    raise os_error("set the mode of", path, exc) from None
                changed.append(path)
            continue
        replace_file(directory, name, text)
        changed.append(path)
    return changed


def _content(path: str) -> bytes | None:
    """Return a regular file's bytes, None when there is none (or a directory, a link: replace_file says why)."""
    try:
        if os.path.islink(path) or not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EISDIR):
            return None
        raise os_error("read", path, exc) from None


__all__ = ["HostPathError", "audit_step", "write_reports"]
