"""Test-only stdout callback: prints the whole run as one JSON document at the end.

Shape: {"plays": [{"play": {"name"}, "tasks": [{"task": {"name"}, "hosts": {host: result}}]}],
"stats": {host: {ok, changed, failures, unreachable, skipped, rescued, ignored}}}. The result of a
delegated task also has "_delegated_to": the host it ran on.
"""

from __future__ import annotations

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: test_json
type: stdout
short_description: whole-run JSON for the collection's tests
description: Prints plays, tasks, per-host results and stats as one JSON document.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "test_json"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results = []

    def v2_playbook_on_play_start(self, play):
        self.results.append({"play": {"name": play.get_name()}, "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        if not self.results:
            self.results.append({"play": {"name": ""}, "tasks": []})
        self.results[-1]["tasks"].append({"task": {"name": task.get_name()}, "hosts": {}})

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _record(self, result, **extra):
        host = result._host.get_name()
        data = dict(result._result)
        data.update(extra)
        delegate = getattr(result._task, "delegate_to", None)
        if delegate and delegate != host:
            data["_delegated_to"] = delegate  # the host the task ran on (delegate_to)
        tasks = self.results[-1]["tasks"] if self.results else []
        if tasks:
            tasks[-1]["hosts"][host] = data

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = {h: stats.summarize(h) for h in sorted(stats.processed)}
        out = {"plays": self.results, "stats": summary}
        custom = getattr(stats, "custom", None)
        if custom:
            out["custom_stats"] = custom
        self._display.display(json.dumps(out, default=str, sort_keys=True))
