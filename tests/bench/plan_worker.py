#!/usr/bin/env python
"""One measurement of the plan benchmark, in a process of its own (so its peak RSS is the plan's run).

``plan_worker.py TEMPLATES.json SHAPE HOSTS COLLECTIONS_DIR [MODE]`` builds the facts of
``shaped_fleet(HOSTS, SHAPES[SHAPE])`` from the gathered template hosts, then runs ``build_plan``
of the collection found under COLLECTIONS_DIR (today's checkout, or an older one extracted for
comparison), serialises the plan to JSON and prints one JSON line of figures. MODE:

- ``time`` (default): wall and CPU time of the plan and of its JSON, peak RSS;
- ``phases``: the same run with light timers around the engine's parts (exclusive times: a part
  nested in another is not counted twice): the door check (``require_facts``; ``require_queue`` and
  the expansion of the queues the rules read, ``HostFacts.queue``), the rest of the ``HostFacts``
  construction, the ``DestinationIndex``, the per-guest ``evaluate``, the rest of a guest's entry
  (the output: positions, preparations, nearest, suggestion), the summary, the JSON; and the RSS
  once the hosts and the index are built;
- ``cprofile``: the plan under cProfile; the top functions by own time (and by cumulative time)
  in the figures, the whole profile written next to TEMPLATES.json.

``BENCH_PLAN_FACTS=copied`` gives every host its own copy of its facts (as hostvars loaded from
a fact cache hold them); the default shares each layout's queue and card lists between hosts.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Phases:
    """Exclusive wall and CPU time per named part: a part's times exclude the parts timed inside it."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.stack: list[list[Any]] = []  # [name, wall started, cpu started, nested wall, nested cpu]

    def wrap(self, name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [name, time.perf_counter(), time.process_time(), 0.0, 0.0]
            self.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stack.pop()
                wall, cpu = time.perf_counter() - frame[1], time.process_time() - frame[2]
                self.wall[name] = self.wall.get(name, 0.0) + wall - frame[3]
                self.cpu[name] = self.cpu.get(name, 0.0) + cpu - frame[4]
                self.calls[name] = self.calls.get(name, 0) + 1
                if self.stack:
                    self.stack[-1][3] += wall
                    self.stack[-1][4] += cpu

        return timed


def _instrument(phases: Phases, marks: dict[str, float]) -> None:
    """Put timers around today's engine parts (module attributes, so the plan's own calls go through them)."""
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _migration_plan as P
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _readiness as R

    H.require_facts = phases.wrap("door_check_facts", H.require_facts)
    H.HostFacts.queue = phases.wrap("queue_check_and_expand", H.HostFacts.queue)
    H.HostFacts.__init__ = phases.wrap("hostfacts_construction", H.HostFacts.__init__)
    R.DestinationIndex.__init__ = phases.wrap("destination_index", R.DestinationIndex.__init__)
    R.evaluate = phases.wrap("evaluate", R.evaluate)
    P._Planner.guest = phases.wrap("guest_entry_output", P._Planner.guest)
    P.summarize = phases.wrap("summary", P.summarize)
    plan = P._Planner.plan

    def marked(self: Any) -> Any:
        marks["rss_after_hosts_and_index_mb"] = _rss_mb()
        return plan(self)

    P._Planner.plan = marked


def _top(stats: Any, key: str, n: int) -> list[str]:
    """Return the n heaviest functions of a pstats.Stats by key ('tottime' or 'cumtime') as short lines."""
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append((tottime if key == "tottime" else cumtime, tottime, cumtime, calls, f"{Path(filename).name}:{line}:{name}"))
    rows.sort(reverse=True)
    return [f"{where} calls={calls} own={own:.2f}s cum={cum:.2f}s" for _k, own, cum, calls, where in rows[:n]]


def main() -> int:
    templates_file, shape_name, hosts, collections = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    mode = sys.argv[5] if len(sys.argv) > 5 else "time"
    sys.path[:0] = [collections, str(HERE.parent)]
    from apsim.generate import SHAPES, shaped_fleet
    from bench_plan import facts_from_templates

    try:
        from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
    except ImportError:  # the 0.1.0 engine
        from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan import build_plan

    templates = json.loads(Path(templates_file).read_text())
    facts = facts_from_templates(shaped_fleet(hosts, SHAPES[shape_name]), templates)
    if os.environ.get("BENCH_PLAN_FACTS") == "copied":
        facts = {name: json.loads(json.dumps(value)) for name, value in facts.items()}
    phases, marks = Phases(), {}
    if mode == "phases":
        _instrument(phases, marks)
    profiler = None
    if mode == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
    gc.collect()
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    plan = build_plan(facts)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    started, json_cpu = time.perf_counter(), time.process_time()
    text = json.dumps(plan)
    json_s, json_cpu = time.perf_counter() - started, time.process_time() - json_cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    running = [g for g in plan["guests"] if g["guest"]]
    summary = plan["summary"]
    figures: dict[str, Any] = {
        "hosts": hosts,
        "guests": len(running),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "json_s": round(json_s, 3),
        "json_cpu_s": round(json_cpu, 3),
        "plan_and_json_s": round(wall + json_s, 3),
        "json_mb": round(len(text) / 2**20, 2),
        "json_bytes_per_guest": round(len(text) / max(1, len(plan["guests"]))),
        "peak_rss_mb": round(peak_kb / 1024),
        "facts_rss_mb": round(before_kb / 1024),
        "verdicts": f"{summary['ready']}/{summary['ready_after']}/{summary['blocked']}",
        "load": round(os.getloadavg()[0], 2),
    }
    if mode == "phases":
        for label, totals, whole, encode in (("phases_s", phases.wall, wall, json_s), ("phases_cpu_s", phases.cpu, cpu, json_cpu)):
            parts = {name: round(seconds, 3) for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1])}
            parts["other"] = round(whole - sum(totals.values()), 3)
            parts["json"] = round(encode, 3)
            figures[label] = parts
        figures["calls"] = phases.calls
        figures.update({k: round(v) for k, v in marks.items()})
    if profiler:
        import pstats

        out = Path(templates_file).with_name(f"profile-{shape_name}-{hosts}.prof")
        profiler.dump_stats(out)
        stats = pstats.Stats(str(out))
        figures["profile"] = str(out)
        figures["top_own"] = _top(stats, "tottime", 15)
        figures["top_cumulative"] = _top(stats, "cumtime", 25)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
