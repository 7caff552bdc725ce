"""The drain stress's short version (tests/stress/drain.py; `make stress` runs more rounds with new seeds).

Two rounds on the live simulator, each a fresh fleet with hostile guest names: a drain killed with
``kill -9`` at a ``virsh migrate`` and run again, and an approved plan tampered with and executed.
The seed is fixed (``DRAIN_STRESS_SEED`` overrides it) so that the same rounds run everywhere; no
wall clock decides anything. Each figure with a target is its own test, so a regression names the
figure; the examples are in the failure message.
"""

from __future__ import annotations

import json
import os

import pytest

from stress.drain import TARGETS, Figures, run_drain_suite

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> Figures:
    from conftest import require_live

    require_live()
    result = run_drain_suite(rounds=2, seed=int(os.environ.get("DRAIN_STRESS_SEED", "20")), work=tmp_path_factory.mktemp("drain"))
    print(result.table())
    return result


def test_both_kinds_of_round_ran(figures):
    sections = list(figures.counts)
    assert any(s.startswith("kill -9 ") for s in sections) and any(s.startswith("tamper: ") for s in sections), sections
    assert figures.total("rounds") == 2 and figures.total("runs") >= 3, figures.table()


@pytest.mark.parametrize("figure", TARGETS)
def test_figure_at_target(figures, figure):
    found = {k: v for k, v in figures.examples.items() if k.endswith(": " + figure)}
    assert figures.total(figure) == 0, (
        f"{figure}: {figures.total(figure)}\n{figures.table()}\n" + json.dumps(found, indent=1, default=str)[:6000]
    )
