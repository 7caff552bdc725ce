# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""Files under a sysroot: which sysroots are accepted, containment, umask-proof atomic writes, debris.

Every module reads and writes the managed host through a *sysroot* (``/`` on a real host, a
captured tree or the project's simulator otherwise). The rules kept here:

* a sysroot is accepted only when it is ``/`` or an existing directory holding ``sys/``
  (``require_sysroot``, one message for every module);
* no write leaves the sysroot: the directories of a target are resolved (symlinks followed) and
  must stay inside the resolved sysroot (``contained``);
* files are written ``0644`` and directories created ``0755`` whatever the umask;
* a file is replaced atomically through a temporary file named ``.s390x-vfio_ap.<pid>.<random>.tmp``.
  For ``etc/mdevctl.d/<parent>/<uuid>`` the temporary file lives in ``etc/mdevctl.d`` (same file
  system), because mdevctl warns about every file in a parent directory that is not a UUID.
  ``sweep_debris`` removes temporary files whose writer is dead (after a ``kill -9``).
"""

import contextlib
import errno
import os
import re
import stat
import time
from typing import Any, Callable, List, Optional

FILE_MODE = 0o644
DIR_MODE = 0o755
TMP_PREFIX = ".s390x-vfio_ap."
TMP_SUFFIX = ".tmp"
_TMP_RE = re.compile(r"^\.s390x-vfio_ap\.([0-9]+)\.[0-9a-z]+\.tmp$")
# Temporary files of earlier releases (random names, no PID): removed once older than this.
LEGACY_TMP_RE = re.compile(r"^\.vfio_ap-[A-Za-z0-9_]+$")
LEGACY_GRACE = 60.0
# Directories the writers write into (relative to the sysroot), swept for debris under the lock.
WRITE_DIRS = ("etc/mdevctl.d", "etc/mdevctl.d/matrix", "etc/vfio_ap", "etc/udev/rules.d")
MDEVCTL_DIR = "etc/mdevctl.d"

SYSROOT_RULE = "it must be / or an existing directory holding sys/ (the root of the host to manage)"

_ERRNO_TEXT = {
    errno.ENOSPC: "the file system is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.ENOTDIR: "a path component is not a directory",
    errno.EISDIR: "it is a directory, not a file",
    errno.ENOTCONN: "the file system is not connected (a dead mount)",
    errno.EIO: "I/O error",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENOENT: "it does not exist",
    errno.EEXIST: "it already exists",
}


class HostPathError(Exception):
    """A sysroot, path or file operation that is refused or failed; str() is one line in AP terms."""

    def __init__(self, message, code=None):
        # type: (str, Optional[int]) -> None
        Exception.__init__(self, message)
        self.errno = code


def errno_text(code):
    # type: (Optional[int]) -> str
    """Return ``ENAME (what it means)`` for an errno, for one-line messages."""
    if code is None:
        return "an unknown error"
    name = errno.errorcode.get(code, "errno {0}".format(code))
    return "{0} ({1})".format(name, _ERRNO_TEXT.get(code, os.strerror(code)))


def os_error(doing, path, exc):
    # type: (str, str, OSError) -> HostPathError
    """Return a HostPathError saying ``cannot <doing> <path>: ENAME (meaning)`` for an OSError."""
    return HostPathError("cannot {0} {1}: {2}".format(doing, path, errno_text(exc.errno)), exc.errno)


def require_sysroot(value):
    # type: (object) -> str
    """Return the sysroot normalized (absolute, no trailing slash) when it is acceptable.

    Accepted: ``/``, or an existing directory that holds ``sys/``. Raises HostPathError with the
    one message all modules give, naming the value and what is wrong.
    """
    text = value if isinstance(value, str) else ""
    if not text.strip():
        raise HostPathError("sysroot: {0!r} is empty; {1}".format(value, SYSROOT_RULE))
    path = os.path.normpath(os.path.abspath(os.path.expanduser(text)))
    if path == "/":
        return path
    for where, missing in ((path, None), (os.path.join(path, "sys"), "holds no sys/ directory")):
        try:
            is_dir = stat.S_ISDIR(os.stat(where).st_mode)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):  # EACCES: not "does not exist"
                raise HostPathError("sysroot: {0}: {1}; {2}".format(where, errno_text(exc.errno), SYSROOT_RULE), exc.errno) from None
            is_dir = False
        if not is_dir:
            what = missing or ("does not exist" if not os.path.lexists(path) else "is not a directory")
            raise HostPathError("sysroot: {0} {1}; {2}".format(value, what, SYSROOT_RULE))
    return path


def host_path(sysroot, rel):
    # type: (str, str) -> str
    """Return the absolute path of rel (``etc/...``) under sysroot, without resolving links."""
    return os.path.join(sysroot, rel.lstrip("/"))


def _inside(root, path):
    # type: (str, str) -> bool
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


def contained(sysroot, rel):
    # type: (str, str) -> str
    """Return the path of rel under sysroot once its directory resolves inside the sysroot.

    The existing part of the target's directory is resolved (symlinks followed); the target itself
    must not be a symlink. Raises HostPathError naming the path and where it leads otherwise.
    """
    path = host_path(sysroot, rel)
    root = os.path.realpath(sysroot)
    real_dir = os.path.realpath(os.path.dirname(path))
    if not _inside(root, real_dir):
        raise HostPathError(
            "refusing to write {0}: its directory resolves to {1}, outside the sysroot {2} (a symbolic link leads out of it)".format(
                path, real_dir, sysroot
            )
        )
    if os.path.islink(path):
        raise HostPathError("refusing to write {0}: it is a symbolic link (to {1}); remove it".format(path, os.readlink(path)))
    return path


def ensure_dir(sysroot, rel_dir):
    # type: (str, str) -> List[str]
    """Create the missing directories of rel_dir under sysroot, each 0755; return those created (outermost first).

    Each level is checked to stay inside the sysroot. Raises HostPathError.
    """
    created = []  # type: List[str]
    parts = [p for p in rel_dir.strip("/").split("/") if p]
    current = ""
    for part in parts:
        current = current + "/" + part if current else part
        path = host_path(sysroot, current)
        contained_dir(sysroot, current)
        if os.path.isdir(path):
            continue
        if os.path.lexists(path):
            raise HostPathError("cannot create the directory {0}: {1}".format(path, errno_text(errno.ENOTDIR)), errno.ENOTDIR)
        try:
            os.mkdir(path, DIR_MODE)
            os.chmod(path, DIR_MODE)
        except OSError as exc:
            if exc.errno == errno.EEXIST and os.path.isdir(path):
                continue
            raise os_error("create the directory", path, exc) from None
        created.append(path)
    return created


def contained_dir(sysroot, rel_dir):
    # type: (str, str) -> str
    """Return the path of directory rel_dir under sysroot once it resolves inside the sysroot; HostPathError otherwise."""
    path = host_path(sysroot, rel_dir)
    root = os.path.realpath(sysroot)
    real = os.path.realpath(path)
    if not _inside(root, real):
        raise HostPathError(
            "refusing to write under {0}: it resolves to {1}, outside the sysroot {2} (a symbolic link leads out of it)".format(
                path, real, sysroot
            )
        )
    return path


def temp_dir_for(rel):
    # type: (str) -> str
    """Return the sysroot-relative directory for the temporary file of a write to rel.

    The target's own directory, except below ``etc/mdevctl.d`` where it is ``etc/mdevctl.d`` itself.
    """
    directory = os.path.dirname(rel.strip("/"))
    if directory.startswith(MDEVCTL_DIR + "/"):
        return MDEVCTL_DIR
    return directory


def read_text(path, what=None):
    # type: (str, Optional[str]) -> Optional[str]
    """Return a regular file's text, None when it does not exist; HostPathError for any other failure."""
    try:
        with open(path) as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise os_error("read " + (what if what else "the file"), path, exc) from None
    except UnicodeDecodeError:
        raise HostPathError("cannot read {0}{1}: it is not text".format(what + " " if what else "", path)) from None


def replace_file(sysroot, rel, text, pid=None):
    # type: (str, str, str, Optional[int]) -> str
    """Replace the file rel under sysroot with text atomically, mode 0644 whatever the umask; return its path.

    Directories are created 0755; the target and its temporary file must stay inside the
    sysroot. Raises HostPathError (nothing is left behind on failure).
    """
    directory = os.path.dirname(rel.strip("/"))
    created = ensure_dir(sysroot, directory)
    try:
        created += ensure_dir(sysroot, temp_dir_for(rel))
        return _replace(sysroot, rel, text, pid)
    except HostPathError:
        for made in reversed(created):  # nothing left behind: not even the directories made for it
            with contextlib.suppress(OSError):
                os.rmdir(made)
        raise


def _replace(sysroot, rel, text, pid):
    # type: (str, str, str, Optional[int]) -> str
    tmp_rel = temp_dir_for(rel)
    path = contained(sysroot, rel)
    if os.path.isdir(path):
        raise HostPathError("cannot write {0}: {1}".format(path, errno_text(errno.EISDIR)), errno.EISDIR)
    tmp = host_path(sysroot, "{0}/{1}{2}.{3}{4}".format(tmp_rel, TMP_PREFIX, pid or os.getpid(), os.urandom(4).hex(), TMP_SUFFIX))
    contained(sysroot, os.path.relpath(tmp, sysroot))
    fd = -1
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fchmod(fd, FILE_MODE)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(tmp, path)
    except OSError as exc:
        raise os_error("write", path, exc) from None
    finally:
        if fd >= 0:
            os.close(fd)
        if os.path.lexists(tmp):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


def remove_file(sysroot, rel):
    # type: (str, str) -> bool
    """Remove the file rel under sysroot; return True when it existed. HostPathError on failure."""
    path = contained(sysroot, rel)
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise os_error("remove", path, exc) from None
    return True


def pid_alive(pid):
    # type: (int) -> bool
    """Return True when a process with this PID exists (a PID we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def sweep_debris(sysroot, dirs=WRITE_DIRS, alive=pid_alive, now=None):
    # type: (str, tuple, Callable[[int], bool], Optional[float]) -> List[str]
    """Remove temporary files left by writers that died (call under the AP configuration lock).

    Removed: ``.s390x-vfio_ap.<pid>.*.tmp`` whose PID no longer runs, and the random-named
    ``.vfio_ap-*`` files of earlier releases once older than LEGACY_GRACE. Returns the removed
    paths; directories that do not exist or cannot be read are skipped.
    """
    removed = []  # type: List[str]
    moment = time.time() if now is None else now
    root = os.path.realpath(sysroot)
    for rel in dirs:
        directory = host_path(sysroot, rel)
        if not _inside(root, os.path.realpath(directory)):
            continue
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            match = _TMP_RE.match(name)
            try:
                if match:
                    if alive(int(match.group(1))):
                        continue
                elif not (LEGACY_TMP_RE.match(name) and moment - os.lstat(path).st_mtime > LEGACY_GRACE):
                    continue
                os.unlink(path)
                removed.append(path)
            except OSError:
                continue
    return removed


def module_sysroot(module):
    # type: (Any) -> str
    """Return the module's checked ``sysroot`` option; fail the module with the shared message otherwise."""
    try:
        return require_sysroot(module.params.get("sysroot"))
    except HostPathError as exc:
        module.fail_json(msg=str(exc), changed=False)
        raise  # not reached: fail_json exits
