# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""What the facts could not read (docs/facts.md, "What could not be read"), and text safe to print.

``kind_of(sysroot, path)`` names the part of the host a path belongs to (a stable word such as
``libvirt_status``); ``unread_entry`` makes one record ``{what, path, errno, error}``;
``order_unread`` sorts and bounds a host's records. ``printable`` makes host-reported text safe
for a terminal, a log or a report: no escape sequence or control character survives it.
"""

import errno
import os
import re
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

# The kinds, in the order the records are listed: the host-wide ones first, the per-queue ones
# last (so that a bounded list keeps every record a verdict about the whole host depends on).
KINDS = (
    "identity",  # /etc/machine-id, /proc/sysinfo, /sys/firmware/ocf/cpc_name
    "bus",  # /sys/bus/ap and the device listing /sys/devices/ap
    "matrix",  # the vfio_ap matrix device: /sys/devices/vfio_ap/matrix and its own attributes
    "mdev",  # one mdev's attributes: /sys/devices/vfio_ap/matrix/<uuid>/...
    "definitions",  # mdevctl definitions: /etc/mdevctl.d/matrix
    "guard",  # the collection's migration guard: /etc/vfio_ap/migration-guard.json
    "libvirt_status",  # running guests: /run/libvirt/qemu
    "libvirt_config",  # defined guests: /etc/libvirt/qemu
    "card",  # one card's attributes: /sys/devices/ap/cardXX/...
    "queue",  # one queue's attributes and driver link: /sys/devices/ap/cardXX/XX.YYYY/...
    "queue_functions",  # one queue's ap_functions: the live hardware query (TAPQ)
    "mkvps",  # one queue's master-key verification patterns
)
MAX_UNREAD = 200  # records listed; ``unread_count`` counts them all

_RULES = (
    (re.compile(r"^sys/devices/ap/card[0-9a-f]{2}/[0-9a-f]{2}\.[0-9a-f]{4}/ap_functions$"), "queue_functions"),
    (re.compile(r"^sys/devices/ap/card[0-9a-f]{2}/[0-9a-f]{2}\.[0-9a-f]{4}/mkvps$"), "mkvps"),
    (re.compile(r"^sys/devices/ap/card[0-9a-f]{2}/[0-9a-f]{2}\.[0-9a-f]{4}(/|$)"), "queue"),
    (re.compile(r"^sys/devices/ap/card[0-9a-f]{2}(/|$)"), "card"),
    (re.compile(r"^sys/(bus/ap|devices/ap)(/|$)"), "bus"),
    (re.compile(r"^sys/devices/vfio_ap/matrix/[0-9a-fA-F-]{36}(/|$)"), "mdev"),
    (re.compile(r"^sys/devices/vfio_ap(/|$)"), "matrix"),
    (re.compile(r"^etc/mdevctl\.d(/|$)"), "definitions"),
    (re.compile(r"^etc/vfio_ap(/|$)"), "guard"),
    (re.compile(r"^run/libvirt(/|$)"), "libvirt_status"),
    (re.compile(r"^etc/libvirt(/|$)"), "libvirt_config"),
    (re.compile(r"^(etc/machine-id|proc/sysinfo|sys/firmware/ocf)(/|$)"), "identity"),
)


def kind_of(sysroot, path):
    # type: (str, str) -> str
    """Return the kind (one of KINDS) of a path read under sysroot; ``bus`` for anything else in sys/."""
    rel = os.path.relpath(path, sysroot) if os.path.isabs(path) else path
    rel = rel.replace(os.sep, "/").lstrip("/")
    for pattern, kind in _RULES:
        if pattern.search(rel):
            return kind
    return "bus"


def errno_name(code):
    # type: (Optional[int]) -> Optional[str]
    """Return the symbolic name of an errno (``EACCES``), or None for None."""
    if code is None:
        return None
    return errno.errorcode.get(code, "errno {0}".format(code))


def unread_entry(what, path, code, error):
    # type: (str, str, Optional[int], str) -> Dict[str, Any]
    """Return one record of what could not be read: {what, path, errno (name or None), error}."""
    return {"what": what, "path": printable(path), "errno": errno_name(code), "error": printable(error)}


def order_unread(records):
    # type: (List[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], int]
    """Return (the records sorted by kind order then path, duplicates dropped, at most MAX_UNREAD; their total count)."""
    rank = {kind: i for i, kind in enumerate(KINDS)}
    seen = set()
    unique = []
    for record in records:
        key = (record["what"], record["path"], record["errno"], record["error"])
        if key not in seen:
            seen.add(key)
            unique.append(record)
    unique.sort(key=lambda r: (rank.get(r["what"], len(KINDS)), r["path"], r["error"]))
    return unique[:MAX_UNREAD], len(unique)


# ----------------------------------------------------------------------------------- printable

# Bidirectional and invisible formatting characters that can make text read differently than it is.
_BIDI = frozenset("\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff")


def printable(text):
    # type: (Any) -> str
    """Return text with every control character, escape sequence start, lone surrogate and
    bidirectional control shown as a visible escape (``\\x1b``, ``\\u202e``): one line, safe to print."""
    text = text if isinstance(text, str) else str(text)
    out = []
    for char in text:
        code = ord(char)
        if char in _BIDI or 0xD800 <= code <= 0xDFFF:
            out.append("\\u{0:04x}".format(code))
        elif code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
            out.append("\\x{0:02x}".format(code))
        elif code > 0x7F and unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            out.append("\\u{0:04x}".format(code))
        else:
            out.append(char)
    return "".join(out)
