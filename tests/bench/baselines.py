"""What the benchmarks measure beside today's tree in the same run: the collection at earlier commits.

A benchmark's figures mean little on a shared machine unless the code they are compared with runs
in the same run, interleaved with today's, under the same load. ``BASELINES`` names the commits
(labels as printed in the figures); ``BENCH_BASELINES=main,0.1.0`` (labels or commit IDs, or
``none``) chooses which ones a run measures, each benchmark having its own default.
``collection_at`` extracts one with ``git archive`` into a collections tree of its own.

``BENCH_ROUNDS`` (default 3) is how many times each figure is taken; ``spread`` reduces the
samples to min / median / max.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# label -> commit. "main" is main before issue 23 (audit at the speed of ping, plan on realistic
# hosts) changed the engine and the audit: the figures of that work are ratios against it.
BASELINES = {"main": "1725648", "0.1.0": "3eb9cc1"}
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
# What a collection tree needs to run its playbooks, roles and plugins.
COLLECTION_PARTS = ("galaxy.yml", "meta", "plugins", "roles", "playbooks")


def wanted(default: str) -> list[tuple[str, str]]:
    """Return [(label, commit)] of the baselines to measure: BENCH_BASELINES, else ``default`` (comma-separated)."""
    text = os.environ.get("BENCH_BASELINES", default).strip()
    if text in ("", "none"):
        return []
    out = []
    for item in (w.strip() for w in text.split(",")):
        if item:
            out.append((item, BASELINES.get(item, item)))
    return out


def collection_at(commit: str, dest: Path, parts: Iterable[str] = COLLECTION_PARTS) -> Path | None:
    """Extract the collection at ``commit`` under ``dest``; return its collections root, or None when git cannot.

    The tree is ``dest/ansible_collections/s390x/vfio_ap`` (point ANSIBLE_COLLECTIONS_PATH or
    PYTHONPATH at the returned ``dest``). Parts the commit does not have are left out.
    """
    present = []
    for part in parts:
        probe = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}:{part}"], capture_output=True, check=False)
        if probe.returncode == 0:
            present.append(part)
    if not present:
        return None
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "archive", commit, *present], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    target = dest / "ansible_collections" / "s390x" / "vfio_ap"
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")
    return dest


def describe(label: str, commit: str) -> str:
    """Return how a baseline is named in the figures: ``label (commit)``."""
    return label if label == commit else f"{label} ({commit})"


def alternate(trees: dict[str, Path], number: int) -> list[tuple[str, Path]]:
    """Return the trees of round ``number`` in the order to measure them: as given in even rounds, reversed in odd ones."""
    items = list(trees.items())
    return items[::-1] if number % 2 else items


def spread(samples: list[float], digits: int = 2) -> dict[str, float]:
    """Return {min, median, max} of the samples, rounded."""
    return {
        "min": round(min(samples), digits),
        "median": round(statistics.median(samples), digits),
        "max": round(max(samples), digits),
    }


def ratio(numerators: list[float], denominators: list[float], digits: int = 2) -> dict[str, float]:
    """Return {min, median, max} of the per-round ratios numerators[i] / denominators[i]."""
    return spread([n / d for n, d in zip(numerators, denominators, strict=True) if d > 0], digits)


def task_times_env(path: Path | None) -> dict[str, str]:
    """Return the environment that makes ansible-playbook write its per-task wall times to ``path`` ({} for None)."""
    if path is None:
        return {}
    helpers = ROOT / "tests" / "helpers" / "callbacks"
    return {
        "ANSIBLE_CALLBACK_PLUGINS": f"{Path(__file__).resolve().parent / 'callbacks'}:{helpers}",
        "ANSIBLE_CALLBACKS_ENABLED": "task_times",
        "BENCH_TASK_TIMES": str(path),
    }


def task_times(files: list[Path], walls: list[float], least: float = 0.1) -> dict[str, float]:
    """Return the median wall time per task over runs (tasks of at least ``least`` s), plus ``(start-up)``: wall - play time."""
    runs = [json.loads(path.read_text()) for path in files if path.exists()]
    if not runs:
        return {}
    out = {"(start-up)": round(statistics.median(w - r["run_s"] for w, r in zip(walls, runs, strict=False)), 2)}
    for name in runs[0]["tasks"]:
        value = statistics.median(r["tasks"].get(name, 0.0) for r in runs)
        if value >= least:
            short = name.split(" : ", 1)[-1]  # without the role's name
            out[short if len(short) <= 60 else short[:57] + "..."] = round(value, 2)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
