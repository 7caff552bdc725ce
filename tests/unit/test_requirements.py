"""Tests that need a system tool fail under CI=true when it is missing, and are skipped otherwise."""

from __future__ import annotations

import shutil

import pytest

from conftest import require_mdevctl


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_mdevctl_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome) as info:
        require_mdevctl()
    assert "mdevctl is not installed" in str(info.value)


def test_an_installed_mdevctl_is_used(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/" + name)
    monkeypatch.setenv("CI", "true")
    require_mdevctl()
