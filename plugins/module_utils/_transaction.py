# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""One locked transaction for every host change: lock, read, decide, write, verify, undo on failure.

Every writer of the collection (AP masks, the persistent mask rule, mdevs, mdevctl definitions,
the migration guard, ``migratable`` attributes) runs its read-modify-write as::

    txn = Transaction(sysroot)
    result = txn.run(body)          # body(txn) reads, decides and writes through txn

``run`` takes the s390apconfig lock (so the read and the decision see every earlier run's result:
concurrent identical runs converge, the later one reports no change), removes debris of writers
that were killed (``_hostpath.sweep_debris``), then calls ``body``. Each write goes through
``txn.step``/``txn.write_attr``/``txn.write_file``/``txn.remove_file``, which journal how to undo
it. When anything raises, the journal is undone newest first, the lock is released and a
TransactionError says in one line what failed and what was restored (``clean`` tells whether the
host is back in its initial state). ``txn.unlocked()`` lets go of the lock around a command that
takes it itself (mdevctl, chzdev) and takes it again afterwards; the journal is kept.

All file system and sysfs operations go through ``txn.io`` (a HostIO), so unit tests can fail the
k-th write for every k and check that the host is left as it was.
"""

import contextlib
from typing import Any, Callable, Iterator, List, Optional, Tuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._aplock import DEFAULT_TIMEOUT, APConfigLock, LockError
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import (
    contained,
    errno_text,
    read_text,
    remove_file,
    replace_file,
    sweep_debris,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import write_attr


class TransactionError(Exception):
    """A transaction failed: the cause, what was undone and whether the host is back as it was.

    ``cause`` is the original exception, ``restored`` the undo notes (``did ...``/``could NOT ...``),
    ``clean`` True when every write made was undone (or none was made), ``written`` the
    descriptions of the writes made before the failure.
    """

    def __init__(self, cause, restored, clean, written):
        # type: (BaseException, List[str], bool, List[str]) -> None
        self.cause = cause
        self.restored = restored
        self.clean = clean
        self.written = written
        Exception.__init__(self, self.describe())

    def describe(self):
        # type: () -> str
        """Return the one-line message: the cause, then what was restored (or that nothing changed)."""
        text = describe_exception(self.cause)
        if not self.written:
            return text + "; nothing was changed"
        if self.clean:
            return text + "; the previous state was restored (" + "; ".join(self.restored) + ")"
        return text + "; the previous state could NOT be fully restored (" + "; ".join(self.restored) + ")"


def describe_exception(exc):
    # type: (BaseException) -> str
    """Return one line for an exception: its text (an OSError as ``file: ENAME (meaning)``), else its class name."""
    text = str(exc).strip().replace("\n", " | ")
    if isinstance(exc, OSError) and exc.errno is not None:
        return "{0}: {1}".format(getattr(exc, "filename", None) or "I/O", errno_text(exc.errno))
    return text or type(exc).__name__


class HostIO:
    """The write primitives a transaction uses (replaceable in tests to inject failures)."""

    def write_attr(self, sysroot, rel, value):
        # type: (str, str, str) -> None
        """Store value into the sysfs attribute rel (SysfsWriteError on refusal); returns None."""
        write_attr(sysroot, rel, value)

    def replace_file(self, sysroot, rel, text):
        # type: (str, str, str) -> None
        """Replace the file rel atomically (0644, contained in the sysroot); returns None."""
        replace_file(sysroot, rel, text)

    def remove_file(self, sysroot, rel):
        # type: (str, str) -> None
        """Remove the file rel (contained in the sysroot); returns None."""
        remove_file(sysroot, rel)


class Transaction:
    """A locked, journalled change of one sysroot (see the module docstring)."""

    def __init__(self, sysroot, io=None, timeout=DEFAULT_TIMEOUT, lock=None):
        # type: (str, Optional[HostIO], float, Optional[APConfigLock]) -> None
        self.sysroot = sysroot
        self.io = io or HostIO()
        self.lock = lock or APConfigLock(sysroot, timeout=timeout)
        self.journal = []  # type: List[Tuple[str, Callable[[], Any]]]
        self.written = []  # type: List[str]
        self.restored = []  # type: List[str]
        self.swept = []  # type: List[str]

    # ------------------------------------------------------------------ running
    def run(self, body):
        # type: (Callable[[Transaction], Any]) -> Any
        """Return body(self) run under the lock; on any failure undo the journal and raise TransactionError."""
        try:
            self.lock.acquire()
        except LockError as exc:
            raise TransactionError(exc, [], True, []) from None
        try:
            self.swept = sweep_debris(self.sysroot) + list(self.lock.debris_removed)
            return body(self)
        except Exception as exc:  # every failure is rolled back and reported in one line
            clean = self.rollback()
            raise TransactionError(exc, list(self.restored), clean, list(self.written)) from None
        finally:
            self.lock.release()

    @contextlib.contextmanager
    def unlocked(self):
        # type: () -> Iterator[None]
        """Release the lock for the block (a command that takes it itself runs there), then take it again."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    # ------------------------------------------------------------------ journal
    def step(self, description, do, undo, undo_description=None):
        # type: (str, Callable[[], Any], Optional[Callable[[], Any]], Optional[str]) -> Any
        """Return do() and journal undo (None: nothing to undo) for a rollback."""
        value = do()
        self.written.append(description)
        if undo is not None:
            self.journal.append((undo_description or "undo " + description, undo))
        return value

    def rollback(self):
        # type: () -> bool
        """Run the journal's undo actions newest first; return True when all of them succeeded."""
        clean = True
        while self.journal:
            text, undo = self.journal.pop()
            try:
                undo()
                self.restored.append("did " + text)
            except Exception as exc:  # report every undo failure, keep undoing the rest
                self.restored.append("could NOT {0}: {1}".format(text, describe_exception(exc)))
                clean = False
        return clean

    # ------------------------------------------------------------------ primitives
    def write_attr(self, rel, value, undo_value=None, description=None):
        # type: (str, str, Optional[str], Optional[str]) -> None
        """Store value into sysfs attribute rel; undo_value (if any) is written back on a rollback."""
        undo = None
        if undo_value is not None:

            def undo():
                # type: () -> None
                self.io.write_attr(self.sysroot, rel, undo_value)

        self.step(
            description or "write {0!r} to /{1}".format(value, rel),
            lambda: self.io.write_attr(self.sysroot, rel, value),
            undo,
            "write {0!r} back to /{1}".format(undo_value, rel) if undo_value is not None else None,
        )

    def read_file(self, rel, what=None):
        # type: (str, Optional[str]) -> Optional[str]
        """Return the text of file rel under the sysroot, None when absent; HostPathError when unreadable."""
        return read_text(contained(self.sysroot, rel), what)

    def write_file(self, rel, text):
        # type: (str, str) -> bool
        """Replace file rel with text (0644), journalling its old content; return False when it already had it."""
        old = self.read_file(rel)
        if old == text:
            return False

        def undo():
            # type: () -> None
            if old is None:
                self.io.remove_file(self.sysroot, rel)
            else:
                self.io.replace_file(self.sysroot, rel, old)

        self.step(
            "write /{0}".format(rel),
            lambda: self.io.replace_file(self.sysroot, rel, text),
            undo,
            "remove /{0} again".format(rel) if old is None else "write the previous /{0} back".format(rel),
        )
        return True

    def remove_file(self, rel):
        # type: (str) -> bool
        """Remove file rel, journalling its content; return False when it did not exist."""
        old = self.read_file(rel)
        if old is None:
            return False
        self.step(
            "remove /{0}".format(rel),
            lambda: self.io.remove_file(self.sysroot, rel),
            lambda: self.io.replace_file(self.sysroot, rel, old),
            "write /{0} back".format(rel),
        )
        return True
