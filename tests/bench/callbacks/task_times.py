# Benchmarks only (tests/bench): not part of the collection.
"""Callback: the wall time of every task of a play, written as JSON to $BENCH_TASK_TIMES at the end.

A task's time runs from its start to the start of the next task (or the end of the run), so it
includes the strategy's work between tasks; a task name seen twice sums. Enabled by the
benchmarks with ANSIBLE_CALLBACK_PLUGINS=tests/bench/callbacks and
ANSIBLE_CALLBACKS_ENABLED=task_times; without BENCH_TASK_TIMES it does nothing.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: per-task wall times for the benchmarks
description: Writes the wall time of every task to the JSON file named by BENCH_TASK_TIMES.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[str, float] = {}
        self.current: tuple[str, float] | None = None
        self.started = time.perf_counter()

    def _close(self) -> None:
        if self.current is not None:
            name, started = self.current
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - started
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = (task.get_name(), time.perf_counter())

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("BENCH_TASK_TIMES")
        if path:
            with open(path, "w") as out:
                json.dump({"tasks": self.times, "run_s": time.perf_counter() - self.started}, out)
