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

Do not hold the lock while running mdevctl or chzdev: their own callouts take it and would wait
for this process until they time out.
"""

import errno
import os
import tempfile
import time
from typing import Callable, Optional

LOCK_PATH = "run/lock/s390apconfig.lock"
RETRY_DELAY = 0.03
DEFAULT_TIMEOUT = 95.0
EMPTY_GRACE = 2.0  # a lock file without a PID younger than this is being written by a tool, not stale


class LockTimeout(Exception):
    """The lock stayed held by a live process for longer than the timeout."""

    def __init__(self, path, holder, waited):
        # type: (str, Optional[int], float) -> None
        self.path = path
        self.holder = holder
        self.waited = waited
        Exception.__init__(
            self,
            "the AP configuration lock {0} is held by process {1} (still running) and was not released within "
            "{2:.0f} s; another AP configuration change (ap-check, chzdev, mdevctl or this collection) is in "
            "progress".format(path, holder if holder is not None else "?", waited),
        )


def parse_holder(text):
    # type: (str) -> Optional[int]
    """Return the holder PID written in a lock file's text, or None when it holds no valid PID."""
    token = text.strip()
    if not token.isdigit():
        return None
    pid = int(token)
    return pid if pid > 0 else None


def pid_alive(pid):
    # type: (int) -> bool
    """Return True when a process with this PID exists (a PID we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def lock_path(sysroot):
    # type: (str) -> str
    """Return the lock file's path under sysroot."""
    return os.path.join(sysroot, LOCK_PATH)


class APConfigLock:
    """Context manager holding the AP configuration lock of a sysroot.

    ``timeout`` is how long a live holder is waited for; ``alive`` decides whether a PID runs
    (replaceable in tests). Raises LockTimeout, or OSError when the lock directory is unusable.
    """

    def __init__(self, sysroot, timeout=DEFAULT_TIMEOUT, alive=pid_alive, sleep=time.sleep, pid=None):
        # type: (str, float, Callable[[int], bool], Callable[[float], None], Optional[int]) -> None
        self.path = lock_path(sysroot)
        self.timeout = timeout
        self.alive = alive
        self.sleep = sleep
        self.pid = pid if pid is not None else os.getpid()
        self.held = False
        self.stale_removed = []  # type: list

    def acquire(self):
        # type: () -> None
        """Take the lock, removing stale lock files and waiting for a live holder; returns None."""
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        waited = 0.0
        holder = None  # type: Optional[int]
        while True:
            if self._try_create():
                self.held = True
                return
            holder = self._read_holder()
            stale = not self.alive(holder) if holder is not None else self._age() > EMPTY_GRACE
            if stale and self._remove_stale(holder):
                continue
            if waited >= self.timeout:
                raise LockTimeout(self.path, holder, waited)
            self.sleep(RETRY_DELAY)
            waited += RETRY_DELAY

    def _try_create(self):
        # type: () -> bool
        """Create the lock file with our PID already in it (link of a private file); False if it exists.

        Linking a complete file means no other process can ever read a lock file without its PID.
        """
        directory = os.path.dirname(self.path)
        fd, private = tempfile.mkstemp(dir=directory, prefix=".s390apconfig.")
        try:
            os.write(fd, "{0}\n".format(self.pid).encode("ascii"))
            os.fchmod(fd, 0o644)
            os.close(fd)
            fd = -1
            try:
                os.link(private, self.path)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
                return False
            return True
        finally:
            if fd >= 0:
                os.close(fd)
            os.unlink(private)

    def _age(self):
        # type: () -> float
        """Return the lock file's age in seconds (0 when it vanished)."""
        try:
            return time.time() - os.stat(self.path).st_mtime
        except OSError:
            return 0.0

    def _read_holder(self):
        # type: () -> Optional[int]
        try:
            with open(self.path) as handle:
                return parse_holder(handle.read())
        except OSError:
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
                raise
        self.stale_removed.append(holder)
        return True

    def release(self):
        # type: () -> None
        """Remove the lock file if this process still holds it; returns None."""
        if not self.held:
            return
        self.held = False
        if self._read_holder() == self.pid:
            try:
                os.unlink(self.path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise

    def __enter__(self):
        # type: () -> APConfigLock
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        # type: (object) -> None
        self.release()
