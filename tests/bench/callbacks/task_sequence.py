# Benchmarks only (tests/bench): not part of the collection.
"""Callback: every task of a run in order, with its file, action and wall time, written as JSON to $BENCH_TASK_SEQUENCE.

A task's time runs from its start to the start of the next task (or the end of the run), so it
includes the strategy's work between tasks. Enabled by the benchmarks with
ANSIBLE_CALLBACK_PLUGINS=tests/bench/callbacks and ANSIBLE_CALLBACKS_ENABLED=task_sequence;
without BENCH_TASK_SEQUENCE it does nothing.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_sequence
type: aggregate
short_description: every task of a run in order, for the benchmarks
description: Writes the tasks of a run (name, file, action, start, seconds) to the JSON file named by BENCH_TASK_SEQUENCE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_sequence"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.started = time.perf_counter()
        self.tasks: list[dict] = []

    def _close(self, now: float) -> None:
        if self.tasks and self.tasks[-1]["seconds"] is None:
            self.tasks[-1]["seconds"] = now - self.tasks[-1]["start"]

    def v2_playbook_on_task_start(self, task, is_conditional):
        now = time.perf_counter() - self.started
        self._close(now)
        path = (task.get_path() or "").rsplit(":", 1)[0]
        self.tasks.append({"name": task.get_name(), "file": path, "action": task.action, "start": now, "seconds": None})

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        now = time.perf_counter() - self.started
        self._close(now)
        path = os.environ.get("BENCH_TASK_SEQUENCE")
        if path:
            with open(path, "w") as out:
                json.dump({"tasks": self.tasks, "run_s": now}, out)
