# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""Writing AP bus and vfio_ap sysfs attributes under a sysroot, with errno translated to AP terms.

A sysfs store is one ``write(2)`` of the whole value; its errno is the kernel's answer. Every
failed write raises SysfsWriteError carrying the file, the value, the errno and what it means for
that attribute (docs/kernel-interface.md: mask writes, assignment rules, ap_config, remove,
the v1 migratable attribute). Reading the state
is the facts engine's job (_facts.py); this file only writes, plus the small reads a writer needs.
"""

import errno
import os
from typing import Optional

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import is_uuid

BUS_AP = "sys/bus/ap"
MATRIX = "sys/devices/vfio_ap/matrix"
MDEV_TYPE = MATRIX + "/mdev_supported_types/vfio_ap-passthrough"
CREATE = MDEV_TYPE + "/create"


# What an errno means, per attribute family, in AP terms.
_MEANINGS = {
    "mask": {
        errno.EBUSY: "an APQN that would go back to the host drivers is assigned to a vfio_ap mdev; "
        "unassign it from the mdev (or remove the mdev) first",
        errno.EINVAL: "the kernel rejected the mask syntax",
    },
    "assign": {
        errno.EADDRNOTAVAIL: "an APQN of the resulting matrix is still reserved for the host drivers "
        "(its apmask and aqmask bits are set); reserve it for vfio_ap first",
        errno.EADDRINUSE: "an APQN of the resulting matrix is already assigned to another mdev",
        errno.ENODEV: "the ID is above the host's maximum adapter/domain ID, or the mdev no longer exists",
        errno.EINVAL: "the kernel could not parse the value",
        errno.EBUSY: "a running guest uses the mdev and this kernel (before 6.0) cannot hot-plug; "
        "shut the guest down (or detach the device) and try again",
    },
    "unassign": {
        errno.EBUSY: "a running guest uses the mdev and this kernel (before 6.0) cannot hot-unplug; "
        "shut the guest down (or detach the device) and try again",
        errno.ENODEV: "the ID is above the host's maximum adapter/domain ID, or the mdev no longer exists",
        errno.EINVAL: "the kernel could not parse the value",
    },
    "ap_config": {
        errno.EADDRNOTAVAIL: "an APQN of the new configuration is still reserved for the host drivers "
        "(its apmask and aqmask bits are set); reserve it for vfio_ap first",
        errno.EADDRINUSE: "an APQN of the new configuration is already assigned to another mdev",
        errno.ENODEV: "an ID of the new configuration is above the host's maximum adapter/domain ID",
        errno.EINVAL: "the kernel could not parse the configuration",
    },
    "create": {
        errno.EEXIST: "an mdev with this UUID already exists",
        errno.EUSERS: "the vfio_ap driver has no mdev instances left",
        errno.ENODEV: "the vfio_ap matrix device is going away",
        errno.EINVAL: "the kernel rejected the UUID",
    },
    "remove": {
        errno.EBUSY: "a running guest still uses the mdev; shut the guest down or detach the device first",
        errno.ENODEV: "the mdev no longer exists",
        errno.EAGAIN: "another removal of this mdev is in progress",
    },
    "migratable": {
        errno.EBUSY: "a migration of the guest using this mdev is in progress; it cannot be disabled now",
        errno.EINVAL: "the kernel accepts only 0 or 1",
    },
}
_COMMON = {
    errno.EACCES: "the attribute's file mode does not allow this access",
    errno.EPERM: "not permitted (root is needed to change AP configuration)",
    errno.ENOENT: "the attribute does not exist (is the vfio_ap module loaded, does the mdev exist?)",
    errno.EIO: "the kernel has no handler for this access",
}


def attr_family(path):
    # type: (str) -> str
    """Return the attribute family of a sysfs path (mask, assign, unassign, ap_config, create, remove, ...)."""
    name = os.path.basename(path)
    if name in ("apmask", "aqmask"):
        return "mask"
    if name.startswith("assign_"):
        return "assign"
    if name.startswith("unassign_"):
        return "unassign"
    return name


def errno_meaning(path, code):
    # type: (str, int) -> str
    """Return what errno code means for a write to the sysfs attribute at path, in AP terms."""
    meaning = _MEANINGS.get(attr_family(path), {}).get(code) or _COMMON.get(code)
    return meaning or os.strerror(code)


def errno_name(code):
    # type: (int) -> str
    """Return the symbolic name of an errno (``EADDRINUSE``), or ``errno N`` when unknown."""
    return errno.errorcode.get(code, "errno {0}".format(code))


class SysfsWriteError(Exception):
    """A sysfs store failed: path, value, errno and its AP meaning (plus an optional detail)."""

    def __init__(self, path, value, code, detail=None):
        # type: (str, str, int, Optional[str]) -> None
        self.path = path
        self.value = value
        self.errno = code
        self.meaning = errno_meaning(path, code)
        self.detail = detail
        Exception.__init__(self, self.describe())

    def describe(self):
        # type: () -> str
        """Return the one-line message: file, value, errno name and meaning, then the detail if any."""
        text = "writing {0!r} to {1} failed with {2} ({3}): {4}".format(
            self.value, self.path, errno_name(self.errno), os.strerror(self.errno), self.meaning
        )
        return text + ("; " + self.detail if self.detail else "")

    def __str__(self):
        # type: () -> str
        return self.describe()

    def as_dict(self):
        # type: () -> dict
        """Return the failure as result data (file, value, errno, meaning)."""
        return {"file": self.path, "value": self.value, "errno": errno_name(self.errno), "meaning": self.meaning, "detail": self.detail}


def require_uuid(text):
    # type: (str) -> str
    """Return text when it is a canonical lowercase UUID (safe as a path component); ValueError otherwise."""
    if not isinstance(text, str) or not is_uuid(text):
        raise ValueError(
            "uuid: {0!r} is not a canonical UUID (8-4-4-4-12 lowercase hex digits, e.g. 6c1a0000-0000-4000-8000-00000000a101)".format(text)
        )
    return text


def sys_path(sysroot, rel):
    # type: (str, str) -> str
    """Return the absolute path of rel (``sys/...``, ``etc/...``) under sysroot."""
    return os.path.join(sysroot, rel)


def mdev_attr(uuid, name):
    # type: (str, str) -> str
    """Return the sysroot-relative path of attribute name of the mdev uuid (uuid validated)."""
    return "{0}/{1}/{2}".format(MATRIX, require_uuid(uuid), name)


def read_attr(sysroot, rel):
    # type: (str, str) -> Optional[str]
    """Return the text of a sysfs attribute, or None when it does not exist."""
    try:
        with open(sys_path(sysroot, rel)) as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def exists(sysroot, rel):
    # type: (str, str) -> bool
    """Return True when the path exists under sysroot."""
    return os.path.exists(sys_path(sysroot, rel))


def write_attr(sysroot, rel, value):
    # type: (str, str, str) -> None
    """Store value (one write, newline added) into a sysfs attribute; returns None.

    Raises SysfsWriteError with the kernel's errno translated to AP terms.
    """
    path = sys_path(sysroot, rel)
    data = (value + "\n").encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        raise SysfsWriteError(path, value, exc.errno or errno.EIO) from exc
    try:
        try:
            written = os.write(fd, data)
        except OSError as exc:
            raise SysfsWriteError(path, value, exc.errno or errno.EIO) from exc
        if written != len(data):
            raise SysfsWriteError(path, value, errno.EIO, "the kernel took {0} of {1} bytes".format(written, len(data)))
    finally:
        os.close(fd)
