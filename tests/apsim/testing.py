"""Helpers for tests that run against live (FUSE-mounted) simulated hosts.

Typical use in a test module::

    from apsim.testing import live_fleet_fixture, sysfs_write

    pytestmark = pytest.mark.live
    live = live_fleet_fixture(FLEET_DATA_OR_PATH)          # module-scoped fixture -> LiveFleet

    def test_something(live):
        root = live.host_dir("lpar1")                      # pass as the modules' sysroot
        assert sysfs_write(root / "sys/bus/ap/apmask", "-5") == 0
        assert live.state("lpar1")["apmask"] ...

A fixture built here calls ``conftest.require_live()`` first (skip, or fail under CI=true, when
FUSE is unusable) and unmounts when its scope ends. ``fresh_live_fleet`` mounts anew per test
for tests that must start from the fleet file's state.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import pytest

from .live import LiveFleet, mounted


def _require_live() -> None:
    from conftest import require_live  # tests/conftest.py (tests/ is on sys.path)

    require_live()


def live_fleet_fixture(fleet: str | Path | dict, scope: str = "module") -> Callable[..., Iterator[LiveFleet]]:
    """Return a pytest fixture (assign it to a module-level name) that yields a mounted LiveFleet."""

    @pytest.fixture(scope=scope)
    def _live(tmp_path_factory) -> Iterator[LiveFleet]:
        _require_live()
        with mounted(fleet, tmp_path_factory.mktemp("live")) as live:
            yield live

    return _live


@pytest.fixture
def fresh_live_fleet(tmp_path) -> Callable[[str | Path | dict], LiveFleet]:
    """A factory fixture: ``fresh_live_fleet(fleet)`` mounts a fleet for this test only."""
    _require_live()
    stack: list[Any] = []

    def make(fleet: str | Path | dict) -> LiveFleet:
        cm = mounted(fleet, tmp_path / f"live{len(stack)}")
        live = cm.__enter__()
        stack.append(cm)
        return live

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def sysfs_write(path: str | Path, text: str | bytes, flags: int = os.O_WRONLY) -> int:
    """Write text to an attribute with one open/write/close; return 0 or the errno of the refusal.

    The errno of open (EACCES), write (the store's errno) or close is returned; a short write
    is reported as EIO.
    """
    data = text.encode() if isinstance(text, str) else text
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return exc.errno or errno.EIO
    result = 0
    try:
        if os.write(fd, data) != len(data):
            result = errno.EIO
    except OSError as exc:
        result = exc.errno or errno.EIO
    try:
        os.close(fd)
    except OSError as exc:
        result = result or exc.errno or errno.EIO
    return result


def sysfs_read(path: str | Path) -> str:
    """Return an attribute's text read with one open/read/close (OSError propagates)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


def read_errno(path: str | Path) -> int:
    """Return 0 when an attribute can be opened and read, else the errno."""
    try:
        sysfs_read(path)
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0
