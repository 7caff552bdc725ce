# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice (documented in plugins/modules/_rolling.py).
"""Action s390x.vfio_ap._rolling: the controller steps of a rolling maintenance run, one task each.

The decisions are pure functions (``_rolling_run``, ``_rolling_boot``, ``_rolling_run_report``,
``_rolling``); this plugin is the glue between them and the ``maintenance`` role's ``rolling``
entry point: it reads the AP facts and what the role's host tasks registered out of ``hostvars``
(under the names in :data:`REGISTERED`) and hands each step's result back to be registered. It
writes the run's files on the controller (the state after every step, the reports, the approved
plans of the drains), each replaced atomically (:func:`write_file`), never in check mode.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _rolling_boot as B
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _rolling_run as R
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import fleet_facts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling import rolling_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling_report import rolling_report as render_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling_run_report import files as run_files

STEPS = (
    "start",
    "batch_plan",
    "migration",
    "record",
    "stop",
    "save",
    "drain_outcome",
    "snapshot",
    "verify",
    "restarts",
    "returns",
    "restore",
    "collect",
    "failures",
)
# What the rolling entry point's host tasks register on each host (tasks/rolling_batch.yml).
REGISTERED = {
    "rules": "__vfio_ap_maintenance_rolling_rules",
    "cmdline": "__vfio_ap_maintenance_rolling_cmdline",
    "other_rules": "__vfio_ap_maintenance_rolling_other_rules",
    "failed": "__vfio_ap_maintenance_rolling_failed",
}
RULES_FILE = "/" + B.RULES_PATH


def _variables(host_vars: Any, host: str) -> Mapping[str, Any]:
    try:
        value = host_vars[host]
    except (KeyError, TypeError):
        return {}
    return value if isinstance(value, Mapping) else {}


def write_file(path: str, text: str) -> None:
    """Replace the file at ``path`` with ``text`` (mode 0644), atomically: a reader or a kill -9 sees the old or the new file."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".rolling-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def report_stamp(directory: Any) -> list[int] | None:
    """Return (modification time in ns, size) of ``directory``/evacuation.json, None when there is none."""
    if not directory:
        return None
    try:
        info = os.stat(os.path.join(str(directory), "evacuation.json"))
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size]


def slurped(result: Any, what: str) -> tuple[str | None, str | None]:
    """Return (the text of a registered ``slurp`` result or None when the file does not exist, a problem or None)."""
    if not isinstance(result, Mapping) or result.get("skipped"):
        return None, f"{what} was not read"
    if result.get("failed"):
        message = str(result.get("msg") or "")
        return (None, None) if message.startswith("file not found") else (None, f"{what} could not be read: {message}")
    try:
        return base64.b64decode(str(result.get("content") or "")).decode("utf-8"), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"{what} could not be decoded: {exc}"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(
        (
            "step",
            "inputs",
            "state",
            "state_text",
            "state_file",
            "fleet",
            "batch",
            "phase",
            "data",
            "now",
            "message",
            "hosts",
            "first",
            "title",
            "strict",
            "name",
            "label",
            "what",
            "active",
            "report_dir",
            "reports",
            "write_to",
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
        self._check = bool(self._task.check_mode if self._task.check_mode is not None else self._play_context.check_mode)
        try:
            result.update(getattr(self, "_" + step)(host_vars))
        except (ValueError, TypeError, KeyError) as exc:
            raise AnsibleActionFail(f"s390x.vfio_ap.maintenance (rolling): {exc}") from exc
        except OSError as exc:
            raise AnsibleActionFail(
                f"s390x.vfio_ap.maintenance (rolling): cannot write {exc.filename or 'a file'} on the controller: {exc.strerror}"
            ) from exc
        result["changed"] = False
        return result

    # ------------------------------------------------------------------ helpers

    def _state(self) -> dict[str, Any]:
        state = R.parse_state(self._arg("state"))
        if state is None:
            raise ValueError("state: expected the run's state")
        return state

    def _facts(self, host_vars: Any) -> dict[str, Any]:
        return fleet_facts(host_vars, list(self._arg("fleet") or []))["facts"]

    def _write(self, files: Mapping[str, str], directory: Any = None) -> list[str]:
        """Write ``{name: text}`` (names relative to ``directory``, default the report directory); return the paths (none in check mode)."""
        base = str(directory or self._arg("report_dir") or "")
        if not base:
            raise ValueError("report_dir: the report directory is needed to write the run's files")
        if self._check:
            return []
        paths = []
        for name, text in files.items():
            path = name if os.path.isabs(name) else os.path.join(base, name)
            write_file(path, text)
            paths.append(path)
        return paths

    def _remove_debris(self) -> None:
        """Remove the temporary files a killed run left while replacing one of its files (never in check mode)."""
        base = str(self._arg("report_dir") or "")
        if self._check or not base or not os.path.isdir(base):
            return
        for root in [base] + [os.path.join(base, d) for d in os.listdir(base) if d.startswith("batch-")]:
            for name in os.listdir(root) if os.path.isdir(root) else []:
                if name.startswith(".rolling-"):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(root, name))

    def _saved(self, state: Mapping[str, Any], batch: Any = None, reports: bool = False) -> dict[str, Any]:
        """Write the state file (and the reports) and return the step's result."""
        out: dict[str, Any] = {"state": state, "summary": R.run_summary(state), "current": R.current(state), "check_mode": self._check}
        files = {str(self._arg("state_file")): R.state_text(state)}
        if reports or state.get("stopped") or state.get("finished"):
            files.update(run_files(state, batch, self._arg("title")))
        out["written"] = self._write(files)
        return out

    # ------------------------------------------------------------------ steps

    def _start(self, host_vars: Any) -> dict[str, Any]:
        request = R.request_of(self._arg("inputs") or {})
        self._remove_debris()
        state = R.resume(self._arg("state_text"), request, str(self._arg("state_file") or "the state file"))
        out: dict[str, Any] = {"resumed": state is not None}
        if state is None:
            fleet = list(self._arg("fleet") or [])
            missing = [h for h in request["hosts"] if h not in fleet]
            if missing:
                raise ValueError(
                    f"vfio_ap_maintenance_hosts: {', '.join(missing)} have no AP facts (not gathered): their guests are unknown"
                )
            plan = rolling_plan(
                host_vars, request["hosts"], batch_size=request["batch_size"], avoid=request["avoid"], destinations=fleet,
                rules=request["rules"], prepare=request["prepare"], enable_migration=request["enable_migration"], order=request["order"],
            )  # fmt: skip
            title = "Rolling maintenance of " + ", ".join(plan["hosts"])
            plan_files = {
                f"rolling-plan.{ext}": render_plan(plan, fmt, title)
                for fmt, ext in (("json", "json"), ("markdown", "md"), ("html", "html"))
            }
            if self._check:  # check mode plans: the plan is written, nothing else
                base = str(self._arg("report_dir") or "")
                for name, text in plan_files.items():
                    write_file(os.path.join(base, name), text)
            else:
                self._write(plan_files)
            state = R.new_state(plan, request, self._facts(host_vars), self._arg("now"))
        out.update(self._saved(state, reports=True))
        return out

    def _batch_plan(self, host_vars: Any) -> dict[str, Any]:
        state = self._state()
        fleet = list(self._arg("fleet") or [])
        plan = R.batch_plan(state, self._arg("batch"), host_vars, fleet)
        self._write({"approved.json": R.state_text(plan["approved"])}, self._arg("write_to"))
        return {**plan, "report_before": report_stamp(self._arg("write_to"))}

    def _migration(self, host_vars: Any) -> dict[str, Any]:
        return {"records": R.migration_disabled(self._facts(host_vars), list(self._arg("hosts") or []))}

    def _record(self, host_vars: Any) -> dict[str, Any]:
        state = R.record(self._state(), self._arg("batch"), str(self._arg("phase")), self._arg("data") or {}, self._arg("now"))
        return self._saved(state, self._arg("batch"), bool(self._arg("reports")))

    def _stop(self, host_vars: Any) -> dict[str, Any]:
        state = R.record(self._state(), self._arg("batch"), "progress", self._arg("data") or {}, self._arg("now"))
        state = R.stop(state, self._arg("batch"), str(self._arg("phase")), str(self._arg("message") or "failed"), self._arg("now"))
        return self._saved(state, self._arg("batch"), True)

    def _save(self, host_vars: Any) -> dict[str, Any]:
        return self._saved(self._state(), None, True)

    def _drain_outcome(self, host_vars: Any) -> dict[str, Any]:
        """Judge a drain from its report (``report_dir``/evacuation.json): a report this drain wrote (changed since
        ``first``, the stamp taken before it) says what happened; without one, what failed on the hosts says why."""
        hosts = list(self._arg("hosts") or [])
        directory = str(self._arg("report_dir") or "")
        path = os.path.join(directory, "evacuation.json")
        fresh = bool(directory) and report_stamp(directory) not in (None, self._arg("first"))
        text = None
        if fresh:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read(R.MAX_STATE_BYTES)
        outcome = R.drain_outcome(text, hosts)
        what = str(self._arg("what") or "the drain")
        active = set(self._arg("active") or hosts)
        problems = [f"{h} is unreachable" for h in hosts if h not in active]
        if not fresh or not outcome["finished"]:
            problems += [p for p in self._problems(host_vars, hosts, what) if p not in problems]
            if not fresh:
                problems.append(f"{what} wrote no report (it did not run, or stopped before its first wave)")
            else:
                problems.append(f"{what} did not finish (its report says so)")
        if outcome["mode"] not in (None, "execute"):
            problems.append(
                f"{what} ran in {outcome['mode']} mode (vfio_ap_maintenance_execute=false in extra variables?): a rolling run executes"
            )
        if outcome["failed"]:
            problems.append("failed to move: " + ", ".join(outcome["failed"]))
        not_empty = {h: sorted(str(s["guest"] or u) for u, s in outcome["stayed"].items() if s["host"] == h) for h in hosts}
        if self._arg("strict") and any(not_empty.values()):
            problems.append("not empty after the drain - " + "; ".join(f"{h}: {', '.join(g)}" for h, g in not_empty.items() if g))
        return {"outcome": outcome, "message": "; ".join(problems)}

    def _problems(self, host_vars: Any, hosts: list[str], what: str) -> list[str]:
        """Return what failed on the hosts (their ``failed`` variable set by a rescue), and the hosts no longer in the play."""
        active = set(self._arg("active") or hosts)
        out = [f"{h} is unreachable" for h in hosts if h not in active]
        for host in hosts:
            failed = _variables(host_vars, host).get(REGISTERED["failed"])
            if failed:
                out.append(f"{what} failed on {host}: {failed}")
        return out

    def _collect(self, host_vars: Any) -> dict[str, Any]:
        """Return ``{done: {host: [label]}, failed: {host: [message]}, entries: [{host, name, ok}], message}`` of a looped host task
        registered as ``name``."""
        hosts = list(self._arg("hosts") or [])
        label = str(self._arg("label") or "item")
        what = str(self._arg("what") or "a step")
        done: dict[str, list[Any]] = {}
        failed: dict[str, list[str]] = {}
        items: list[dict[str, Any]] = []
        for host in hosts:
            registered = _variables(host_vars, host).get(str(self._arg("name")))
            for item in (registered.get("results") or []) if isinstance(registered, Mapping) else []:
                if not isinstance(item, Mapping) or item.get("skipped"):
                    continue
                loop_item = item.get(item.get("ansible_loop_var") or "item")
                name = loop_item.get(label) if isinstance(loop_item, Mapping) else loop_item
                bad = item.get("failed") or (item.get("rc") not in (None, 0))
                items.append({"host": host, "name": name, "ok": not bad})
                if bad:
                    text = str(item.get("msg") or item.get("stderr") or "failed").strip().splitlines()
                    failed.setdefault(host, []).append(f"{name}: {text[0] if text else 'failed'}")
                else:
                    done.setdefault(host, []).append(name)
        problems = self._problems(host_vars, hosts, what) + [f"{what} failed on {h}: {'; '.join(m)}" for h, m in failed.items()]
        return {"done": done, "failed": failed, "entries": items, "message": "; ".join(problems)}

    def _failures(self, host_vars: Any) -> dict[str, Any]:
        hosts = list(self._arg("hosts") or [])
        return {"message": "; ".join(self._problems(host_vars, hosts, str(self._arg("what") or "a step")))}

    def _snapshot(self, host_vars: Any) -> dict[str, Any]:
        state = self._state()
        facts = self._facts(host_vars)
        hosts = list(self._arg("hosts") or [])
        homes = state["homes"] if state["request"].get("return") == "original" else {}
        snapshots: dict[str, Any] = {}
        for host in hosts:
            get = _variables(host_vars, host).get
            rules, problem = slurped(get(REGISTERED["rules"]), RULES_FILE)
            cmdline, cmd_problem = slurped(get(REGISTERED["cmdline"]), "/proc/cmdline")
            found = get(REGISTERED["other_rules"])
            others = sorted(
                str(f.get("path")) for f in (found.get("files") or [] if isinstance(found, Mapping) else []) if isinstance(f, Mapping)
                and not str(f.get("path")).endswith(RULES_FILE)
            )  # fmt: skip
            if problem:
                others.append(problem)
            if not isinstance(found, Mapping) or found.get("failed") or found.get("skipped"):
                others.append("the udev rules directories could not be searched")
            if cmd_problem:
                others.append(cmd_problem)
            if host not in facts:
                raise ValueError(f"{host} has no AP facts before its reboot")
            needed = [u for u, h in homes.items() if h.get("home") == host]
            snapshots[host] = B.snapshot(facts[host], rules, cmdline, others, needed, host)
        stayed = {h: sorted(set(s["live"]["running"].values())) for h, s in snapshots.items() if s["live"]["running"]}
        blocking = {h: [f["detail"] for f in s["blocking"]] for h, s in snapshots.items() if s["blocking"]}
        return {"snapshots": snapshots, "stayed": stayed, "blocking": blocking}

    def _verify(self, host_vars: Any) -> dict[str, Any]:
        state = self._state()
        batch = R.batch_of(state, self._arg("batch"))
        facts = self._facts(host_vars)
        first = self._arg("first") or {}
        out: dict[str, Any] = {}
        for host in batch["hosts"]:
            before = (batch.get("snapshots") or {}).get(host)
            if before is None:
                raise ValueError(f"{host}: no snapshot taken before its reboot")
            if host not in facts:
                out[host] = {"verified": False, "differences": [{"code": "not_audited", "detail": f"no AP facts of {host}"}], "notes": [],
                             "repairs": {"ap_mask": [], "mdev": []}, "lost": before.get("findings") or []}  # fmt: skip
                continue
            result = B.verify(before, facts[host], host)
            earlier = first.get(host) if isinstance(first, Mapping) else None
            if isinstance(earlier, Mapping):
                now = {(d["code"], d.get("uuid"), d.get("mask")) for d in result["differences"]}
                result["repaired"] = [d for d in earlier.get("differences") or [] if (d["code"], d.get("uuid"), d.get("mask")) not in now]
            else:
                result["repaired"] = []
            out[host] = result
        repairs = {h: r["repairs"] for h, r in out.items() if r["repairs"]["ap_mask"] or r["repairs"]["mdev"]}
        return {"verify": out, "repairs": repairs, "verified": all(r["verified"] for r in out.values())}

    def _restarts(self, host_vars: Any) -> dict[str, Any]:
        return R.restarts(self._state(), self._arg("batch"), self._facts(host_vars))

    def _returns(self, host_vars: Any) -> dict[str, Any]:
        out = R.returns(self._state(), self._arg("batch"), self._facts(host_vars))
        out["report_before"] = report_stamp(self._arg("write_to"))
        if out["approved"]:
            self._write({"approved.json": R.state_text(out["approved"])}, self._arg("write_to"))
        out["sources"] = list(out["approved"]["hosts"]) if out["approved"] else []
        return out

    def _restore(self, host_vars: Any) -> dict[str, Any]:
        return {"restore": R.restore_migration(self._state(), self._arg("batch"), self._facts(host_vars))}
