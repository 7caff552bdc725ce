# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice (documented in plugins/modules/_audit_reports.py).
"""Action s390x.vfio_ap._audit_reports: the audit's controller step (plan, summary, report files) in one task."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.action import ActionBase

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_step import HostPathError, audit_step, write_reports
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import ADDRESS_VARIABLE, LEVEL_VARIABLE
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import MissingLibrary

# The variables of a host the plan reads: its facts (as gathered: never templated) and these two (templated, as
# hostvars gives them to the filters).
_TEMPLATED = (ADDRESS_VARIABLE, LEVEL_VARIABLE)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("hosts", "rules", "limit", "nearest", "migration_network", "report_dir", "formats", "title"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        hosts = args.get("hosts")
        if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
            raise AnsibleActionFail(f"hosts: expected a list of inventory host names, got {hosts!r}")
        formats = args.get("formats") or []
        report_dir = args.get("report_dir")
        if formats and (not isinstance(report_dir, str) or not report_dir.strip()):
            raise AnsibleActionFail(f"report_dir: expected the directory for the reports, got {report_dir!r}")
        directory = os.path.realpath(report_dir) if isinstance(report_dir, str) and report_dir.strip() else None
        try:
            found = audit_step(
                _fleet_variables(task_vars.get("hostvars") or {}, hosts),
                hosts,
                rules=args.get("rules", "auto"),
                limit=args.get("limit"),
                nearest=args.get("nearest"),
                migration_network=args.get("migration_network") or None,
                report_dir=directory,
                formats=formats,
                title=args.get("title") or "vfio-ap live-migration readiness",
            )
            written = write_reports(directory, found["files"]) if found["files"] and directory else []
        except MissingLibrary as exc:
            raise AnsibleActionFail(f"s390x.vfio_ap.migration_plan: {exc.purpose} needs {missing_required_lib(exc.library)}") from exc
        except (ValueError, HostPathError) as exc:
            raise AnsibleActionFail(str(exc)) from exc
        result.update(
            changed=bool(written),
            # JSON text: one string crosses Ansible's result handling (callbacks, register) instead of the
            # plan's objects (about 170 per guest), each of which it would copy and walk several times.
            plan_json=json.dumps(found["plan"], separators=(",", ":")),
            summary=found["summary"],
            not_audited=found["not_audited"],
            reports=[os.path.join(directory, name) for name in found["files"]] if directory else [],
            written=written,
        )
        return result


def _fleet_variables(host_vars: Any, hosts: list[str]) -> dict[str, Mapping[str, Any]]:
    """Return {host: the variables the plan reads} of the named inventory hosts (those hostvars does not know are left out).

    The facts come as stored (``raw_get``: gathered data is never a template); the migration address and
    level as hostvars templates them for a filter.
    """
    out: dict[str, Mapping[str, Any]] = {}
    raw_get = getattr(host_vars, "raw_get", None)
    for name in dict.fromkeys(hosts):
        if name not in host_vars:
            continue
        variables = raw_get(name) if raw_get is not None else host_vars[name]
        if not isinstance(variables, Mapping):
            continue
        view: dict[str, Any] = {}
        facts = variables.get("ansible_facts")
        if isinstance(facts, Mapping) and "vfio_ap" in facts:
            view["ansible_facts"] = {"vfio_ap": facts["vfio_ap"]}
        for key in _TEMPLATED:
            if key in variables:
                view[key] = host_vars[name][key] if raw_get is not None else variables[key]
        out[name] = view
    return out
