#!/usr/bin/env python
"""Run every benchmark (tests/bench/bench_*.py) and print its figures.

Each benchmark module defines ``run(workdir: pathlib.Path) -> dict`` returning its figures
(names to numbers or short strings). Results are printed and saved to
tests/output/bench/results.json. Benchmarks report; they never pass or fail on time.
Select some with ``make bench BENCH=name1,name2`` (file names without ``bench_``, or an alias below).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT / ".collections")]  # HERE: the benches' shared baselines.py
# other names a benchmark answers to in BENCH=...
ALIASES = {"facts": "ap_facts"}


def main() -> int:
    # names as in `make bench BENCH=audit-ssh` (dashes) or as in the file name (underscores)
    wanted = {ALIASES.get(w.replace("-", "_"), w.replace("-", "_")) for w in os.environ.get("BENCH", "").split(",") if w}
    results = {}
    out_dir = ROOT / "tests" / "output" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem[len("bench_") :]
        if wanted and name not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"=== bench {name}", flush=True)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
            figures = module.run(Path(work))
        figures["bench_wall_s"] = round(time.perf_counter() - started, 2)
        for key, value in figures.items():
            print(f"  {key}: {value}")
        results[name] = figures
    if not results:
        print("no benchmarks selected")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"results: {out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
