# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice (documented in plugins/modules/_drain.py).
"""Action s390x.vfio_ap._drain: the controller steps of the maintenance role's drain, one task each.

The drain's decisions are pure functions (``_waves``, ``_just_in_time``, ``_wave_outcomes``,
``_drain_document``, ``_drain_report``); this plugin is the glue between them and the role: it
reads the AP facts and what the role's host tasks registered out of ``hostvars``, under the names
in :data:`REGISTERED` (a test holds them to the role's tasks), and hands each step's result back
to be registered.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import drain_report
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import gathered_facts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._just_in_time import just_in_time
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import require_host_names
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._wave_outcomes import wave_outcomes, with_cleanup
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._waves import order_waves

STEPS = ("order_waves", "just_in_time", "wave_outcomes", "drain_report")
# The maintenance role's variable behind each option: a message about a bad option names what the user set.
ROLE_VARIABLES = {
    "rules": "vfio_ap_maintenance_rules",
    "prepare": "vfio_ap_maintenance_prepare",
    "per_source": "vfio_ap_maintenance_per_source",
    "per_destination": "vfio_ap_maintenance_per_destination",
    "enable": "vfio_ap_maintenance_enable_migration",
    "keep_prepared": "vfio_ap_maintenance_keep_prepared",
    "on_failure": "vfio_ap_maintenance_on_failure",
    "command": "vfio_ap_maintenance_migrate_command",
    "command.command": "vfio_ap_maintenance_migrate_command",
    "command.options": "vfio_ap_maintenance_migrate_options",
    "command.timeout": "vfio_ap_maintenance_migrate_timeout",
    "command.uri": "vfio_ap_maintenance_destination_uri",
}
# The variables the maintenance role's tasks register (or set) on each host of a wave, by the host
# result they hold (``_wave_outcomes.HOST_RESULT_KEYS``): tasks/wave.yml and tasks/prepare_one.yml.
REGISTERED = {
    "prepare_errors": ("__vfio_ap_maintenance_prepare_errors",),
    "undo": ("__vfio_ap_maintenance_undo",),
    "migrated": ("__vfio_ap_maintenance_migrated", "__vfio_ap_maintenance_waited"),
    "kernel_log": ("__vfio_ap_maintenance_kernel_read", "__vfio_ap_maintenance_kernel_journal"),
    "domstate": ("__vfio_ap_maintenance_domstate",),
    "cleaned": ("__vfio_ap_maintenance_cleaned",),
}
# The format of the kernel's lines each kernel-log register holds.
KERNEL_FORMATS = {"__vfio_ap_maintenance_kernel_read": "syslog", "__vfio_ap_maintenance_kernel_journal": "journal"}
# The earlier run's report an order_waves step resumes from, in the report directory.
REPORT_FILE = "evacuation.json"
_MAX_REPORT_BYTES = 32 * 1024 * 1024


def _variables(host_vars: Any, host: str) -> Mapping[str, Any]:
    try:
        value = host_vars[host]
    except (KeyError, TypeError):
        return {}
    return value if isinstance(value, Mapping) else {}


def _results(value: Any) -> list[Any]:
    return list(value.get("results") or []) if isinstance(value, Mapping) else []


def host_results(host_vars: Any, hosts: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return ``{host: {prepare_errors, undo, migrated, kernel_log, kernel_format, facts, domstate, cleaned}}``.

    ``host_vars``: ``hostvars`` (or any {host: {variable: value}}); what each key holds is read from
    the variables in :data:`REGISTERED`; a host or variable that is missing gives empty values.
    """
    collected = {}
    for host in hosts:
        get = _variables(host_vars, host).get
        reads = [(get(name), KERNEL_FORMATS[name]) for name in REGISTERED["kernel_log"]]
        read, kernel_format = next(
            ((r, f) for r, f in reads if isinstance(r, Mapping) and not r.get("skipped") and "stdout" in r), (None, "syslog")
        )
        domstate = {}
        for result in [r for name in REGISTERED["domstate"] for r in _results(get(name))]:
            if isinstance(result, Mapping) and not result.get("skipped"):
                guest = result.get(result.get("ansible_loop_var") or "item")
                domstate[str(guest)] = str(result.get("stdout") or "") + str(result.get("stderr") or "")
        collected[host] = {
            "prepare_errors": {k: v for name in REGISTERED["prepare_errors"] for k, v in dict(get(name) or {}).items()},
            "undo": {k: v for name in REGISTERED["undo"] for k, v in dict(get(name) or {}).items()},
            "migrated": [r for name in REGISTERED["migrated"] for r in _results(get(name))],
            "kernel_log": read.get("stdout") if read is not None else None,
            "kernel_format": kernel_format,
            "facts": gathered_facts(_variables(host_vars, host)),
            "domstate": domstate,
            "cleaned": [r for name in REGISTERED["cleaned"] for r in _results(get(name))],
        }
    return collected


def facts_of_hosts(host_vars: Any, hosts: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    """Return ``{host: ansible_facts.vfio_ap}`` of the hosts that have them."""
    found = {}
    for host in hosts:
        facts = gathered_facts(_variables(host_vars, host))
        if facts is not None:
            found[host] = facts
    return found


def run_outcomes(previous: Any, host_vars: Any, check_mode: bool) -> dict[str, dict[str, Any]]:
    """Return the run's outcomes so far: those of ``previous`` (the last ``wave_outcomes`` step's result, or
    nothing), with what removing the source mdevs of that wave's guests did (the role's task after that step)."""
    if not isinstance(previous, Mapping) or not isinstance(previous.get("outcomes"), Mapping):
        return {}
    cleanup: Mapping[str, Any] = previous["cleanup"] if isinstance(previous.get("cleanup"), Mapping) else {}
    return with_cleanup(previous["outcomes"], cleanup, host_results(host_vars, cleanup), check_mode)


def read_report(report_dir: Any) -> str | None:
    """Return the text of an earlier run's report in ``report_dir`` (None when there is none or it cannot be read)."""
    if not isinstance(report_dir, str) or not report_dir:
        return None
    path = os.path.join(report_dir, REPORT_FILE)
    try:
        if os.path.getsize(path) > _MAX_REPORT_BYTES:
            return None
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


# What a wave that a stop skipped leaves to its remaining tasks.
_NOTHING_TO_DO: dict[str, Any] = {"undo": {}, "undo_actions": {}, "moved": {}, "cleanup": {}}


class InputError(ValueError):
    """A role input that is wrong: the message names the role variable."""


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(
        (
            "step",
            "options",
            "evacuation",
            "plan",
            "hosts",
            "fleet",
            "wave",
            "steps",
            "previous",
            "addresses",
            "held",
            "mode",
            "report_dir",
        )
    )

    def _arg(self, name: str, default: Any = None) -> Any:
        return self._task.args.get(name, default)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        step = self._arg("step")
        if step not in STEPS:
            raise AnsibleActionFail(f"step: expected one of {', '.join(STEPS)}, got {step!r}")
        host_vars = task_vars.get("hostvars") or {}
        check_mode = bool(self._task.check_mode if self._task.check_mode is not None else self._play_context.check_mode)
        try:
            try:
                options = DrainOptions.of(**dict(self._arg("options") or {}), names=ROLE_VARIABLES)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            result.update(getattr(self, "_" + step)(host_vars, options, check_mode))
        except InputError as exc:
            raise AnsibleActionFail(f"s390x.vfio_ap.maintenance: {exc}; nothing was changed") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise AnsibleActionFail(f"s390x.vfio_ap._drain {step}: {exc}") from None
        result["changed"] = False
        return result

    def _order_waves(self, host_vars: Any, options: DrainOptions, check_mode: bool) -> dict[str, Any]:
        """The waves, and the report written when the drain starts (guests pending until it ends)."""
        evacuation = self._arg("evacuation")
        ordered = order_waves(evacuation, self._arg("plan"), options, read_report(self._arg("report_dir")))
        progress = Progress("execute", held=ordered["held"], started=True, resumed=tuple(ordered["resumed"]))
        facts = facts_of_hosts(host_vars, require_host_names(self._arg("hosts") or [], "hosts"))
        started = drain_report(drain_document(evacuation, progress, facts, self._arg("plan")), self._arg("report_dir"))
        return {**ordered, "files": started["files"]}

    def _just_in_time(self, host_vars: Any, options: DrainOptions, check_mode: bool) -> dict[str, Any]:
        """The wave's decisions, from the facts gathered just now."""
        wave = self._arg("wave")
        if not isinstance(wave, Mapping) or not isinstance(wave.get("guests"), list):
            raise ValueError("wave: expected a wave of order_waves ({index, guests, hosts})")
        facts = facts_of_hosts(host_vars, require_host_names(self._arg("fleet") or [], "fleet"))
        return just_in_time(wave["guests"], facts, self._arg("addresses") or {}, options)

    def _wave_outcomes(self, host_vars: Any, options: DrainOptions, check_mode: bool) -> dict[str, Any]:
        """The run so far: the outcomes of every wave (the last one's source-mdev cleanup added), this wave's on top.

        Runs in every wave, also in those a stop skipped (their host tasks registered nothing of use):
        then it hands the run on unchanged, with nothing to undo or clean up. See tasks/wave.yml.
        """
        previous = self._arg("previous")
        previous = previous if isinstance(previous, Mapping) else {}
        outcomes = run_outcomes(previous, host_vars, check_mode)
        if previous.get("stopped"):
            return {**_NOTHING_TO_DO, "outcomes": outcomes, "guest_failed": bool(previous.get("guest_failed")), "stopped": True}
        steps = self._arg("steps")
        if not isinstance(steps, Mapping) or not isinstance(steps.get("guests"), list):
            raise ValueError("steps: expected the wave's just_in_time step result")
        hosts = list(dict.fromkeys([*(steps.get("hosts") or []), *(g["source"] for g in steps["guests"])]))
        done = wave_outcomes(steps, host_results(host_vars, hosts), options, check_mode)
        return {
            **done,
            "outcomes": {**outcomes, **done["outcomes"]},
            "guest_failed": done["guest_failed"] or bool(previous.get("guest_failed")),
        }

    def _drain_report(self, host_vars: Any, options: DrainOptions, check_mode: bool) -> dict[str, Any]:
        """The report at the end: the document, its files, the set_stats summary and the lines to show."""
        previous = self._arg("previous")
        outcomes = run_outcomes(previous, host_vars, check_mode)
        stopped = bool(previous.get("stopped")) if isinstance(previous, Mapping) else False
        progress = Progress(str(self._arg("mode")), outcomes=outcomes, held=dict(self._arg("held") or {}), stopped=stopped)
        facts = facts_of_hosts(host_vars, require_host_names(self._arg("hosts") or [], "hosts"))
        report = drain_report(drain_document(self._arg("evacuation"), progress, facts, self._arg("plan")), self._arg("report_dir"))
        return {"report": {k: report[k] for k in ("document", "files", "summary")}, "messages": report["messages"]}
