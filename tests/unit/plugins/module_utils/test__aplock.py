"""The s390apconfig lock: PID + newline, stale locks removed, live holders waited for, mutual exclusion."""

from __future__ import annotations

import errno
import multiprocessing
import os
from pathlib import Path

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._aplock import (
    LOCK_PATH,
    APConfigLock,
    LockError,
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
    clock = [100.0]

    def nap(seconds):
        naps.append(seconds)
        clock[0] += 1.3  # a busy machine: each nap lasts far longer than asked

    with pytest.raises(LockTimeout) as info:
        APConfigLock(str(tmp_path), timeout=5, sleep=nap, clock=lambda: clock[0]).acquire()
    assert len(naps) == 4  # the real waited time is measured, not the sum of the naps asked for
    assert "within 5 s" in str(info.value)
    assert info.value.waited == pytest.approx(5.2)
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


def _odd_lock(root, kind):
    lock = root / LOCK_PATH
    if kind == "run/lock is a file":
        (root / "run").mkdir()
        (root / "run/lock").write_text("")
        return
    lock.parent.mkdir(parents=True)
    if kind == "lock is a directory":
        lock.mkdir()
    elif kind == "dangling symlink":
        lock.symlink_to(root / "nowhere")
    elif kind == "symlink out":
        (root / "elsewhere").write_text("")
        lock.symlink_to(root / "elsewhere")


@pytest.mark.parametrize(
    "kind, words",
    [
        ("run/lock is a file", "not a directory"),
        ("lock is a directory", "is a directory, not a lock file"),
        ("dangling symlink", "which does not exist"),
        ("symlink out", "is a symbolic link"),
    ],
)
def test_odd_lock_files_are_refused_at_once_in_one_line(tmp_path, kind, words):
    _odd_lock(tmp_path, kind)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(LockError) as info:
        APConfigLock(str(tmp_path), timeout=60, sleep=lambda s: pytest.fail("waited")).acquire()
    assert words in str(info.value) and "\n" not in str(info.value)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before, "nothing changed"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_file_system_refusing_the_lock_file_is_one_line(tmp_path, monkeypatch, code):
    (tmp_path / "run/lock").mkdir(parents=True)
    real_open = os.open

    def refusing(path, flags, mode=0o777):
        if ".s390apconfig." in str(path):
            raise OSError(code, os.strerror(code), path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(LockError) as info:
        APConfigLock(str(tmp_path)).acquire()
    assert errno.errorcode[code] in str(info.value)
    assert list((tmp_path / "run/lock").iterdir()) == []


def test_private_files_of_dead_processes_are_swept(tmp_path):
    lockdir = tmp_path / "run/lock"
    lockdir.mkdir(parents=True)
    dead = lockdir / ".s390apconfig.999999999.abcd1234"
    live = lockdir / f".s390apconfig.{os.getppid()}.abcd1234"
    dead.write_text("999999999\n")
    live.write_text("x")
    with APConfigLock(str(tmp_path), alive=lambda pid: pid == os.getppid()) as lock:
        assert lock.debris_removed == [str(dead)]
    assert not dead.exists() and live.exists()
