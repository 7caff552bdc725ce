#!/usr/bin/env python
"""One measurement of the plan benchmark, in a process of its own (so its peak RSS is the plan's run).

``plan_worker.py TEMPLATES.json HOSTS COLLECTIONS_DIR`` builds the facts of ``spread_fleet(HOSTS)``
from the gathered template hosts, then times ``build_plan`` of the collection found under
COLLECTIONS_DIR (today's checkout, or an older one extracted for comparison), serialises the plan
to JSON and prints one JSON line of figures.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    templates_file, hosts, collections = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.path[:0] = [collections, str(HERE.parent)]
    from apsim.generate import spread_fleet
    from bench_plan import facts_from_templates

    try:
        from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
    except ImportError:  # the 0.1.0 engine
        from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._plan import build_plan

    templates = json.loads(Path(templates_file).read_text())
    facts = facts_from_templates(spread_fleet(hosts), templates)
    gc.collect()
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    plan = build_plan(facts)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    text = json.dumps(plan)
    json_s = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    running = [g for g in plan["guests"] if g["guest"]]
    summary = plan["summary"]
    print(
        json.dumps(
            {
                "hosts": hosts,
                "guests": len(running),
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "json_s": round(json_s, 3),
                "plan_and_json_s": round(wall + json_s, 3),
                "json_mb": round(len(text) / 2**20, 2),
                "json_bytes_per_guest": round(len(text) / max(1, len(plan["guests"]))),
                "peak_rss_mb": round(peak_kb / 1024),
                "facts_rss_mb": round(before_kb / 1024),
                "verdicts": f"{summary['ready']}/{summary['ready_after']}/{summary['blocked']}",
                "load": round(os.getloadavg()[0], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
