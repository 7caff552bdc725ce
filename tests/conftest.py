"""Shared pytest set-up: import paths, fleet fixtures and the live-simulator availability check."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".collections"
LINK = COLLECTIONS / "ansible_collections" / "s390x" / "vfio_ap"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(Path("../../.."))
for entry in (str(ROOT / "tests"), str(COLLECTIONS)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

FLEETS = ROOT / "tests" / "fleets"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Detach the dead simulator mounts that killed runs left under pytest's temporary directories.

    A killed run's teardown never ran: its mounts answer ENOTCONN and pytest cannot remove their
    directories. Live mounts (another run's) are left alone.
    """
    from apsim.live import sweep_dead_mounts

    given = session.config.option.basetemp
    if not given:
        try:
            user = getpass.getuser()
        except (KeyError, OSError, ImportError):  # a UID without a name: pytest says "unknown" too
            user = "unknown"
        given = Path(os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()) / f"pytest-of-{user}"
    sweep_dead_mounts(given)


@pytest.fixture(scope="session")
def demo_fleet_path() -> Path:
    return FLEETS / "demo.yml"


@pytest.fixture(scope="session")
def rendered_demo(tmp_path_factory, demo_fleet_path) -> Path:
    """The demo fleet rendered once per session: ``<dir>/<host>/sys/...``."""
    from apsim.fleet import load_fleet
    from apsim.render import render_fleet

    dest = tmp_path_factory.mktemp("demo-rendered")
    render_fleet(load_fleet(demo_fleet_path), dest)
    return dest


def live_unavailable_reason() -> str | None:
    """Return why the live FUSE simulator cannot run here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    if not any(os.access(os.path.join(p, "fusermount3"), os.X_OK) for p in os.environ.get("PATH", "").split(":")):
        return "fusermount3 is not installed (Debian package fuse3)"
    try:
        import mfusepy  # noqa: F401
    except Exception as exc:  # libfuse3 missing raises EnvironmentError at import
        return f"mfusepy cannot load libfuse: {exc}"
    return None


def require_live() -> None:
    """Skip (or, under CI=true, fail) a test that needs the live FUSE simulator when it cannot run."""
    from helpers.needs import require

    reason = live_unavailable_reason()
    require(f"live simulator unavailable: {reason}" if reason else None)


def require_mdevctl() -> None:
    """Skip (or, under CI=true, fail) a test that needs the real mdevctl when it is not installed."""
    import shutil

    from helpers.needs import require

    if shutil.which("mdevctl") is None:
        require("mdevctl is not installed (Debian package mdevctl; tools/bootstrap-system.sh installs it)")
