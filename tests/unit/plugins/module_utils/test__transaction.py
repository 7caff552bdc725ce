"""The transaction layer and the sysroot rules: lock, journal, rollback at every step, containment, modes, debris."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._aplock import LOCK_PATH
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import (
    HostPathError,
    require_sysroot,
    replace_file,
    sweep_debris,
    temp_dir_for,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._transaction import HostIO, Transaction, TransactionError


def tree(root: Path) -> dict[str, str]:
    """Return {relative path: text or 'dir'} of everything under root except the lock directory."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith("run"):
            continue
        out[rel] = "dir" if path.is_dir() else path.read_text()
    return out


def host(tmp_path: Path) -> Path:
    (tmp_path / "sys/bus/ap").mkdir(parents=True)
    (tmp_path / "sys/bus/ap/apmask").write_text("a\n")
    (tmp_path / "sys/bus/ap/aqmask").write_text("b\n")
    (tmp_path / "etc/vfio_ap").mkdir(parents=True)
    (tmp_path / "etc/vfio_ap/guard.json").write_text("old guard\n")
    return tmp_path


class FailingIO(HostIO):
    """Fails the k-th write (1-based) with errno code; undo writes are never failed."""

    def __init__(self, k: int, code: int = errno.ENOSPC):
        self.k, self.code, self.count, self.undoing = k, code, 0, False

    def _maybe_fail(self, rel):
        self.count += 1
        if self.count == self.k:
            raise OSError(self.code, os.strerror(self.code), rel)

    def write_attr(self, sysroot, rel, value):
        self._maybe_fail(rel)
        Path(sysroot, rel).write_text(value + "\n")  # a plain file stands in for the attribute

    def replace_file(self, sysroot, rel, text):
        self._maybe_fail(rel)
        super().replace_file(sysroot, rel, text)

    def remove_file(self, sysroot, rel):
        self._maybe_fail(rel)
        super().remove_file(sysroot, rel)


def body(txn: Transaction) -> str:
    """Four writes of every kind: two attributes, a new file, a replaced file, a removed file."""
    txn.write_attr("sys/bus/ap/apmask", "A", undo_value="a")
    txn.write_attr("sys/bus/ap/aqmask", "B", undo_value="b")
    txn.write_file("etc/mdevctl.d/matrix/new", "new definition\n")
    txn.write_file("etc/vfio_ap/guard.json", "new guard\n")
    txn.remove_file("etc/mdevctl.d/matrix/new")
    return "done"


WRITES = 5


@pytest.mark.parametrize("k", range(1, WRITES + 1))
def test_a_failure_at_every_write_step_leaves_the_initial_state(tmp_path, k):
    root = host(tmp_path)
    initial = tree(root)
    io = FailingIO(k)
    with pytest.raises(TransactionError) as info:
        Transaction(str(root), io=io).run(body)
    error = info.value
    assert error.clean
    assert len(error.written) == k - 1, "the result says which writes were made before the failure"
    assert ("nothing was changed" in str(error)) == (k == 1)
    assert "ENOSPC" in str(error) or "No space left" in str(error)
    assert "\n" not in str(error)
    after = tree(root)
    # directories created on the way may stay (empty); every file is as it was
    assert {p: t for p, t in after.items() if t != "dir"} == {p: t for p, t in initial.items() if t != "dir"}
    assert not (root / LOCK_PATH).exists(), "the lock is released after a rollback"


def test_without_failure_every_write_is_made_and_nothing_is_journalled_as_undone(tmp_path):
    root = host(tmp_path)
    txn = Transaction(str(root), io=FailingIO(0))
    assert txn.run(body) == "done"
    assert (root / "sys/bus/ap/apmask").read_text() == "A\n"
    assert (root / "etc/vfio_ap/guard.json").read_text() == "new guard\n"
    assert not (root / "etc/mdevctl.d/matrix/new").exists()
    assert txn.restored == [] and len(txn.written) == WRITES


def test_a_failing_undo_is_reported_and_the_rest_still_undone(tmp_path):
    root = host(tmp_path)

    def bad(txn):
        txn.write_attr("sys/bus/ap/apmask", "A", undo_value="a")
        txn.step("poke", lambda: None, lambda: (_unused for _unused in ()).throw(OSError(errno.EIO, "I/O error")), "unpoke")
        raise RuntimeError("verify failed")

    with pytest.raises(TransactionError) as info:
        Transaction(str(root)).run(bad)
    assert not info.value.clean
    assert "could NOT unpoke" in str(info.value) and "could NOT be fully restored" in str(info.value)
    assert (root / "sys/bus/ap/apmask").read_text() == "a\n"


def test_a_lock_that_cannot_be_taken_changes_nothing(tmp_path):
    root = host(tmp_path)
    (root / "run").mkdir()
    (root / "run/lock").write_text("")
    with pytest.raises(TransactionError) as info:
        Transaction(str(root)).run(body)
    assert info.value.clean and "nothing was changed" in str(info.value)
    assert (root / "sys/bus/ap/apmask").read_text() == "a\n"


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: None, "/"),
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "file").write_text("") or p / "file", "is not a directory"),
        (lambda p: (p / "nosys").mkdir() or p / "nosys", "holds no sys/ directory"),
        (lambda p: "", "is empty"),
    ],
)
def test_require_sysroot(tmp_path, make, words):
    value = make(tmp_path)
    if value is None:
        assert require_sysroot("/") == "/"
        return
    with pytest.raises(HostPathError) as info:
        require_sysroot(str(value))
    assert words in str(info.value) and "must be / or an existing directory holding sys/" in str(info.value)


def test_require_sysroot_accepts_a_tree_with_sys(tmp_path):
    (tmp_path / "sys").mkdir()
    assert require_sysroot(str(tmp_path) + "/") == str(tmp_path)


@pytest.mark.parametrize("link", ["etc/vfio_ap", "etc", "run/lock"])
def test_no_write_leaves_the_sysroot_through_a_symlink(tmp_path, link):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "sys").mkdir(parents=True)
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(outside)
    with pytest.raises(HostPathError) as info:
        replace_file(str(root), link + "/file", "x")
    assert "outside the sysroot" in str(info.value)
    assert list(outside.iterdir()) == []


def test_files_0644_and_directories_0755_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        replace_file(str(tmp_path), "etc/vfio_ap/migration-guard.json", "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "etc/vfio_ap/migration-guard.json").stat().st_mode & 0o7777 == 0o644
    assert (tmp_path / "etc/vfio_ap").stat().st_mode & 0o7777 == 0o755
    assert (tmp_path / "etc").stat().st_mode & 0o7777 == 0o755


@pytest.mark.parametrize(
    "rel, tmpdir",
    [
        ("etc/mdevctl.d/matrix/6c1a0000-0000-4000-8000-00000000a101", "etc/mdevctl.d"),
        ("etc/vfio_ap/migration-guard.json", "etc/vfio_ap"),
        ("etc/udev/rules.d/41-ap.rules", "etc/udev/rules.d"),
    ],
)
def test_temporary_files_never_go_into_an_mdevctl_parent_directory(rel, tmpdir):
    assert temp_dir_for(rel) == tmpdir


def test_debris_of_dead_writers_is_swept_and_live_writers_are_left(tmp_path):
    matrix = tmp_path / "etc/mdevctl.d/matrix"
    matrix.mkdir(parents=True)
    dead = tmp_path / "etc/mdevctl.d/.s390x-vfio_ap.999999999.0a0b.tmp"
    live = tmp_path / f"etc/mdevctl.d/.s390x-vfio_ap.{os.getpid()}.0a0b.tmp"
    legacy_old = matrix / ".vfio_ap-abc123"
    legacy_new = matrix / ".vfio_ap-def456"
    for path in (dead, live, legacy_old, legacy_new):
        path.write_text("x")
    os.utime(legacy_old, (1, 1))
    removed = sweep_debris(str(tmp_path), alive=lambda pid: pid == os.getpid())
    assert sorted(removed) == sorted([str(dead), str(legacy_old)])
    assert live.exists() and legacy_new.exists()


def test_a_file_that_cannot_be_written_leaves_no_directory_made_for_it(tmp_path, monkeypatch):
    """ENOSPC (or any write error) after creating etc/vfio_ap removes etc/vfio_ap again."""
    import os as _os

    from ansible_collections.s390x.vfio_ap.plugins.module_utils import _hostpath

    (tmp_path / "sys").mkdir()
    (tmp_path / "etc").mkdir()
    real_open = _os.open

    def full(path, flags, mode=0o777):
        if str(path).startswith(str(tmp_path / "etc")) and flags & _os.O_CREAT:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, mode)

    monkeypatch.setattr(_hostpath.os, "open", full)
    with pytest.raises(_hostpath.HostPathError, match="ENOSPC"):
        _hostpath.replace_file(str(tmp_path), "etc/vfio_ap/migration-guard.json", "{}\n")
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == []


def test_the_lock_is_retried_when_released_between_link_and_look(tmp_path, monkeypatch):
    """os.link answers EEXIST, then the holder releases: take it on the next try instead of failing."""
    import os as _os

    from ansible_collections.s390x.vfio_ap.plugins.module_utils import _aplock

    (tmp_path / "sys").mkdir()
    real_link = _os.link
    calls = []

    def racing_link(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            raise OSError(errno.EEXIST, "File exists")  # the holder's file, gone before we look
        return real_link(src, dst)

    monkeypatch.setattr(_aplock.os, "link", racing_link)
    lock = _aplock.APConfigLock(str(tmp_path), timeout=5)
    lock.acquire()
    assert lock.held and len(calls) == 2
    lock.release()
