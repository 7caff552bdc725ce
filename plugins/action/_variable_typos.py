# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice (documented in plugins/modules/_variable_typos.py).
"""Action s390x.vfio_ap._variable_typos: warn about vfio_ap_<role>_* variables the role does not declare."""

from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._role_vars import declared_options, typo_message, unknown_variables


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("also",))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        role = self._task._role
        if role is None:
            raise AnsibleActionFail("s390x.vfio_ap._variable_typos runs only as a task of one of the collection's roles")
        also = self._task.args.get("also") or []
        if not isinstance(also, list) or not all(isinstance(v, str) for v in also):
            raise AnsibleActionFail(f"also: expected a list of variable names, got {also!r}")
        name = role.get_name(include_role_fqcn=False).split(".")[-1]
        fqcn = f"s390x.vfio_ap.{name}"
        specs: dict[str, Any] = {}
        for ext in (".yml", ".yaml"):
            path = os.path.join(role._role_path, "meta", "argument_specs" + ext)
            if os.path.exists(path):
                specs = (self._loader.load_from_file(path) or {}).get("argument_specs") or {}
                break
        known = declared_options(specs) | {f"vfio_ap_{name}_{suffix}" for suffix in also}
        names = set(task_vars)
        if self._task.run_once:  # once for the hosts of the batch: each host's own variables too (its host and group vars)
            hostvars = task_vars.get("hostvars") or {}
            for host in task_vars.get("ansible_play_batch") or ():
                if host in hostvars:
                    names.update(hostvars[host])
        found = unknown_variables(names, name, known)
        result.update(
            changed=False,
            unknown=[n for n, _near in found],
            warnings=[typo_message(n, fqcn, near) for n, near in found],
        )
        return result
