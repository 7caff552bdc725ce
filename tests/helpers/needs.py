"""What a test needs from the machine: one rule for a missing tool or facility."""

from __future__ import annotations

import os

import pytest


def require(reason: str | None) -> None:
    """Skip the calling test when ``reason`` (why it cannot run here) is set; under CI=true fail it instead,
    so that CI never passes by skipping what its machine must provide."""
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
