#!/usr/bin/env python
"""One measurement of the rolling plan benchmark, in a process of its own (its peak RSS is the plan's run).

``rolling_worker.py TEMPLATES.json HOSTS GUESTS BATCH`` builds the facts of ``rolling_fleet(HOSTS,
GUESTS)`` from the gathered template hosts, times ``rolling_plan`` over every host with batch size
BATCH, serialises the plan to JSON and prints one JSON line of figures.
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
    templates_file, hosts, guests, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    sys.path[:0] = [str(HERE)]
    from apsim.generate import rolling_fleet
    from bench_plan import facts_from_templates

    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _readiness as R
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling import rolling_plan

    templates = json.loads(Path(templates_file).read_text())
    facts = facts_from_templates(rolling_fleet(hosts, guests), templates)
    evaluations = 0
    evaluate = R.evaluate

    def counting(*args, **kwargs):
        nonlocal evaluations
        evaluations += 1
        return evaluate(*args, **kwargs)

    R.evaluate = counting
    gc.collect()
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    plan = rolling_plan(facts, sorted(facts), batch_size=batch)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    text = json.dumps(plan)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = plan["summary"]
    guest_batches = summary["guests"] * summary["batches"]
    print(
        json.dumps(
            {
                "hosts": hosts,
                "batch_size": batch,
                "guests": summary["guests"],
                "batches": summary["batches"],
                "guest_batches": guest_batches,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "us_per_guest_batch": round(wall * 1e6 / max(1, guest_batches), 1),
                "evaluations": evaluations,
                "moves": summary["moves"],
                "extra_moves": summary["extra_moves"],
                "stranded": summary["stranded"],
                "orders": " ".join(f"{o['order']}={o['moves']}/{o['stranded']}" for o in plan["orders"]),
                "json_kb": round(len(text) / 1024),
                "peak_rss_mb": round(peak_kb / 1024),
                "facts_rss_mb": round(before_kb / 1024),
                "load": round(os.getloadavg()[0], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
