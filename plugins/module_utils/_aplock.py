# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""The s390 AP configuration lock ``<sysroot>/run/lock/s390apconfig.lock``.

s390-tools (ap-check, chzdev) serialise every AP configuration change with this file: it is
created exclusively and holds the holder's PID and a newline. A lock whose PID no longer runs is
stale and removed; a live holder is waited for (ap-check: 3000 tries about 30 ms apart, ~95 s).
A file without a valid PID is stale once it is older than EMPTY_GRACE (another tool may be between
creating it and writing its PID); this module creates its lock file with the PID already in it.
The write modules take the same lock around their sysfs writes, so they never interleave with
ap-check, chzdev or another run of this collection.

Odd lock files are refused with one line each, before anything is written: a lock path that is
a directory or a symbolic link (dangling or not), a lock directory that is a file, a file system
that refuses the lock file (ENOSPC, EROFS, EACCES). The waited time is measured with a monotonic
clock. The lock's private files are named ``.s390apconfig.<pid>.<hex>``; those of dead processes
(a ``kill -9`` between creating and linking) are removed by the next holder.

Do not hold the lock while running mdevctl or chzdev: their own callouts take it and would wait
for this process until they time out.
"""

import contextlib
import errno
import os
import re
import stat
import time
from typing import Callable, List, Optional

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import (
    HostPathError,
    pid_alive,
    errno_text,
    ensure_dir,
)

LOCK_PATH = "run/lock/s390apconfig.lock"
RETRY_DELAY = 0.03
DEFAULT_TIMEOUT = 95.0
EMPTY_GRACE = 2.0  # a lock file without a PID younger than this is being written by a tool, not stale
PRIVATE_PREFIX = ".s390apconfig."
_PRIVATE_RE = re.compile(r"^\.s390apconfig\.([0-9]+)\.[0-9a-f]+$")
_LEGACY_PRIVATE_RE = re.compile(r"^\.s390apconfig\.[A-Za-z0-9_]{8}$")
LEGACY_GRACE = 60.0


class LockError(Exception):
    """The AP configuration lock cannot be taken; str() is one line saying why and what to do."""

    def __init__(self, message, path=None):
        # type: (str, Optional[str]) -> None
        Exception.__init__(self, message)
        self.path = path


class LockTimeout(LockError):
    """The lock stayed held by a live process for longer than the timeout."""

    def __init__(self, path, holder, waited):
        # type: (str, Optional[int], float) -> None
        self.holder = holder
        self.waited = waited
        LockError.__init__(
            self,
            "the AP configuration lock {0} is held by process {1} (still running) and was not released within "
            "{2:.0f} s; another AP configuration change (ap-check, chzdev, mdevctl or this collection) is in "
            "progress".format(path, holder if holder is not None else "?", waited),
            path,
        )


def parse_holder(text):
    # type: (str) -> Optional[int]
    """Return the holder PID written in a lock file's text, or None when it holds no valid PID."""
    token = text.strip()
    if not token.isdigit():
        return None
    pid = int(token)
    return pid if pid > 0 else None


def lock_path(sysroot):
    # type: (str) -> str
    """Return the lock file's path under sysroot."""
    return os.path.join(sysroot, LOCK_PATH)


class APConfigLock:
    """Context manager holding the AP configuration lock of a sysroot.

    ``timeout`` is how long a live holder is waited for; ``alive`` decides whether a PID runs,
    ``sleep`` and ``clock`` (monotonic seconds) pace and measure the wait (all replaceable in
    tests). Raises LockTimeout, or LockError when the lock cannot be taken at all.
    """

    def __init__(self, sysroot, timeout=DEFAULT_TIMEOUT, alive=pid_alive, sleep=time.sleep, pid=None, clock=time.monotonic):
        # type: (str, float, Callable[[int], bool], Callable[[float], None], Optional[int], Callable[[], float]) -> None
        self.sysroot = sysroot
        self.path = lock_path(sysroot)
        self.timeout = timeout
        self.alive = alive
        self.sleep = sleep
        self.clock = clock
        self.pid = pid if pid is not None else os.getpid()
        self.held = False
        self.stale_removed = []  # type: list
        self.debris_removed = []  # type: List[str]

    def acquire(self):
        # type: () -> None
        """Take the lock, removing stale lock files and waiting for a live holder; returns None."""
        try:
            ensure_dir(self.sysroot, os.path.dirname(LOCK_PATH))
        except HostPathError as exc:
            raise LockError("cannot take the AP configuration lock {0}: {1}".format(self.path, exc), self.path) from None
        start = self.clock()
        holder = None  # type: Optional[int]
        while True:
            self._require_kind()
            if self._try_create():
                self.held = True
                self._sweep_private()
                return
            holder = self._read_holder()
            stale = not self.alive(holder) if holder is not None else self._age() > EMPTY_GRACE
            if stale and self._remove_stale(holder):
                continue
            waited = self.clock() - start
            if waited >= self.timeout:
                raise LockTimeout(self.path, holder, waited)
            self.sleep(RETRY_DELAY)

    def _require_kind(self):
        # type: () -> None
        """Raise LockError when the lock path is something other than a regular file or nothing."""
        try:
            info = os.lstat(self.path)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return
            raise LockError("cannot take the AP configuration lock {0}: {1}".format(self.path, errno_text(exc.errno)), self.path) from None
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(self.path)
            raise LockError(
                "the AP configuration lock {0} is a symbolic link (to {1}{2}), not a lock file; ap-check and chzdev "
                "create a regular file there: remove the link".format(
                    self.path, target, ", which does not exist" if not os.path.exists(self.path) else ""
                ),
                self.path,
            )
        if stat.S_ISDIR(info.st_mode):
            raise LockError(
                "the AP configuration lock {0} is a directory, not a lock file; remove it (no AP configuration tool "
                "can take the lock while it is there)".format(self.path),
                self.path,
            )
        if not stat.S_ISREG(info.st_mode):
            raise LockError("the AP configuration lock {0} is not a regular file; remove it".format(self.path), self.path)

    def _private_name(self):
        # type: () -> str
        return os.path.join(os.path.dirname(self.path), "{0}{1}.{2}".format(PRIVATE_PREFIX, self.pid, os.urandom(4).hex()))

    def _try_create(self):
        # type: () -> bool
        """Create the lock file with our PID already in it (link of a private file); False if it exists.

        Linking a complete file means no other process can ever read a lock file without its PID.
        """
        private = self._private_name()
        fd = -1
        try:
            try:
                fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
                os.write(fd, "{0}\n".format(self.pid).encode("ascii"))
                os.fchmod(fd, 0o644)
                os.close(fd)
                fd = -1
                os.link(private, self.path)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    # held now, or released between the link and this look: try again (the caller's
                    # loop checks what kind of file is there and who holds it)
                    return False
                raise LockError(
                    "cannot take the AP configuration lock {0}: {1}".format(self.path, errno_text(exc.errno)), self.path
                ) from None
            return True
        finally:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(private)

    def _sweep_private(self):
        # type: () -> None
        """Remove private files of processes that died before linking them (kill -9); returns None."""
        directory = os.path.dirname(self.path)
        try:
            names = os.listdir(directory)
        except OSError:
            return
        now = time.time()
        for name in names:
            path = os.path.join(directory, name)
            match = _PRIVATE_RE.match(name)
            try:
                if match:
                    pid = int(match.group(1))
                    if pid == self.pid or self.alive(pid):
                        continue
                elif not (_LEGACY_PRIVATE_RE.match(name) and now - os.lstat(path).st_mtime > LEGACY_GRACE):
                    continue
                os.unlink(path)
                self.debris_removed.append(path)
            except OSError:
                continue

    def _age(self):
        # type: () -> float
        """Return the lock file's age in seconds (0 when it vanished)."""
        try:
            return time.time() - os.lstat(self.path).st_mtime
        except OSError:
            return 0.0

    def _read_holder(self):
        # type: () -> Optional[int]
        try:
            with open(self.path) as handle:
                return parse_holder(handle.read())
        except (OSError, UnicodeDecodeError):
            return None

    def _remove_stale(self, holder):
        # type: (Optional[int]) -> bool
        """Remove a stale lock file (only if it still names the same dead holder); return True if gone."""
        if self._read_holder() != holder:
            return False
        try:
            os.unlink(self.path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise LockError(
                    "cannot remove the stale AP configuration lock {0} (holder {1} is gone): {2}".format(
                        self.path, holder if holder is not None else "?", errno_text(exc.errno)
                    ),
                    self.path,
                ) from None
        self.stale_removed.append(holder)
        return True

    def release(self):
        # type: () -> None
        """Remove the lock file if this process still holds it; returns None (never raises)."""
        if not self.held:
            return
        self.held = False
        if self._read_holder() == self.pid:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def __enter__(self):
        # type: () -> APConfigLock
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        # type: (object) -> None
        self.release()
