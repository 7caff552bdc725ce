"""The s390apconfig lock: PID + newline, stale locks removed, live holders waited for, mutual exclusion."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._aplock import (
    LOCK_PATH,
    APConfigLock,
    LockTimeout,
    parse_holder,
)


@pytest.mark.parametrize("text, pid", [("1234\n", 1234), ("77", 77), ("", None), ("abc\n", None), ("0\n", None), ("-5\n", None)])
def test_parse_holder(text, pid):
    assert parse_holder(text) == pid


def test_lock_file_holds_our_pid_and_goes_away_on_release(tmp_path):
    with APConfigLock(str(tmp_path)) as lock:
        assert (tmp_path / LOCK_PATH).read_text() == f"{os.getpid()}\n"
        assert lock.held
    assert not (tmp_path / LOCK_PATH).exists()


@pytest.mark.parametrize("content", ["999999\n", "garbage\n", ""])
def test_a_stale_lock_is_removed_and_taken(tmp_path, content):
    path = tmp_path / LOCK_PATH
    path.parent.mkdir(parents=True)
    path.write_text(content)
    os.utime(path, (1, 1))  # written long ago
    with APConfigLock(str(tmp_path), alive=lambda pid: False, sleep=lambda s: pytest.fail("waited for a dead holder")) as lock:
        assert path.read_text() == f"{os.getpid()}\n"
        assert lock.stale_removed == [parse_holder(content)]


def test_a_fresh_lock_file_without_pid_is_being_written_and_is_not_stale(tmp_path):
    path = tmp_path / LOCK_PATH
    path.parent.mkdir(parents=True)
    path.write_text("")
    with pytest.raises(LockTimeout):
        APConfigLock(str(tmp_path), timeout=0.09, sleep=lambda s: None).acquire()
    assert path.exists() and path.read_text() == ""


def test_a_live_holder_is_waited_for_then_reported(tmp_path):
    path = tmp_path / LOCK_PATH
    path.parent.mkdir(parents=True)
    path.write_text(f"{os.getppid()}\n")
    naps = []
    with pytest.raises(LockTimeout) as info:
        APConfigLock(str(tmp_path), timeout=0.3, sleep=naps.append).acquire()
    assert len(naps) == 10  # 30 ms steps until the timeout
    assert f"held by process {os.getppid()}" in str(info.value)
    assert path.read_text() == f"{os.getppid()}\n", "another holder's lock is never touched"


def test_a_holder_that_lets_go_is_followed(tmp_path):
    path = tmp_path / LOCK_PATH
    path.parent.mkdir(parents=True)
    path.write_text(f"{os.getppid()}\n")

    def nap(_seconds):
        path.unlink()  # the other holder releases while we wait

    with APConfigLock(str(tmp_path), sleep=nap):
        assert path.read_text() == f"{os.getpid()}\n"


def test_release_leaves_a_lock_someone_else_took(tmp_path):
    lock = APConfigLock(str(tmp_path))
    lock.acquire()
    (tmp_path / LOCK_PATH).write_text("4242\n")  # e.g. removed as stale by another tool and retaken
    lock.release()
    assert (tmp_path / LOCK_PATH).read_text() == "4242\n"


def _worker(root: str, rounds: int) -> None:
    counter = Path(root) / "counter"
    for _round in range(rounds):
        with APConfigLock(root):
            value = int(counter.read_text())
            counter.write_text(str(value + 1))


def test_processes_are_mutually_excluded(tmp_path):
    (tmp_path / "counter").write_text("0")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_worker, args=(str(tmp_path), 20)) for _index in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert (tmp_path / "counter").read_text() == "80"
