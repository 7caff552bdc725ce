"""The stress suite's short version (tests/stress/runner.py, `make stress` runs the full one).

A few concurrency rounds of every writer against itself and the others, a kill -9 at every
fifth write step of every writer followed by a repairing run, and every fault case with one
writer (every writer for the faults in etc/). The suite runs once (module fixture); each figure with a target is its own test, so a
regression names the figure, and the examples (with a reproducer) are in the failure message.
"""

from __future__ import annotations

import json

import pytest

from stress.runner import TARGETS, Figures, run_suite

pytestmark = [pytest.mark.live, pytest.mark.slow]

# No time limit: the runner's hang guard (HANG_GUARD) only catches a run that never ends, so a loaded
# machine makes the suite slower, never red.
SHORT = {"rounds": 2, "procs": 3, "kill_stride": 5, "quick_faults": True}


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> Figures:
    from conftest import require_live

    require_live()
    result = run_suite(work=tmp_path_factory.mktemp("stress"), **SHORT)
    print(result.table())
    return result


def test_every_part_ran(figures):
    sections = list(figures.counts)
    assert any(s.startswith("concurrency: ") for s in sections)
    assert any(s.startswith("kill -9: ") for s in sections)
    assert any(s.startswith("fault: ") for s in sections)
    assert figures.total("rounds") >= 50 and figures.total("runs") >= 120, figures.table()


@pytest.mark.parametrize(
    "figure",
    list(TARGETS),
)
def test_figure_at_target(figures, figure):
    found = {k: v for k, v in figures.examples.items() if k.endswith(": " + figure)}
    assert figures.total(figure) == 0, (
        f"{figure}: {figures.total(figure)}\n{figures.table()}\n" + json.dumps(found, indent=1, default=str)[:6000]
    )
