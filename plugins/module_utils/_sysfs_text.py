# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""Pure parsers of AP bus and vfio_ap sysfs attribute text, as the kernel prints it.

Every function takes the text read from one attribute (trailing newline included or not) and
returns plain data; malformed text raises ValueError saying what was expected. Masks and IDs go
through ``_ids`` (the collection's one mask grammar). Formats: docs/kernel-interface.md (the AP
bus, cards and queues, an mdev).
"""

import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import format_apqn, mask_to_ids

QUEUE_STATUSES = ("unassigned", "assigned", "in use")
# A show handler fills at most one page (4096 bytes, NUL included); sysfs_emit_at stops there.
PAGE_TEXT = 4095
_INT_RE = re.compile(r"^-?[0-9]+$")
_FUNCTIONS_RE = re.compile(r"^0[xX]([0-9a-fA-F]{1,8})$")
_BINDINGS_RE = re.compile(r"^([0-9]+)/([0-9]+)(?:\s+\(complete\))?$")
_MATRIX_LINE_RE = re.compile(r"^([0-9a-fA-F]{1,2})?\.([0-9a-fA-F]{1,4})?$")
_CD_LINE_RE = re.compile(r"^[0-9a-fA-F]{1,4}$")
_MKVP_LINE_RE = re.compile(r"^([A-Z]+) (NEW|CUR|OLD):\s+(\S+)\s+(\S+)$")
_MKVP_HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")
_FEATURE_RE = re.compile(r"^[A-Za-z0-9_]+$")


def page_full(text):
    # type: (str) -> bool
    """Return True when an attribute's text fills a whole sysfs page, so the kernel may have cut it short."""
    return len(text) >= PAGE_TEXT


def parse_int(text):
    # type: (str) -> int
    """Return the integer of a ``"%d\\n"`` / ``"%u\\n"`` attribute; ValueError otherwise."""
    body = text.strip()
    if not _INT_RE.match(body):
        raise ValueError("expected an integer, got {0!r}".format(text))
    return int(body, 10)


def parse_bool(text):
    # type: (str) -> bool
    """Return True/False of a ``0``/``1`` attribute (config, chkstop, online, migratable)."""
    value = parse_int(text)
    if value not in (0, 1):
        raise ValueError("expected 0 or 1, got {0!r}".format(text))
    return value == 1


def parse_request_count(text):
    # type: (str) -> Optional[int]
    """Return a queue or card request counter; None for ``-`` (queue not initiated yet)."""
    if text.strip() == "-":
        return None
    value = parse_int(text)
    if value < 0:
        raise ValueError("a request count cannot be negative: {0!r}".format(text))
    return value


def parse_mask(text):
    # type: (str) -> List[int]
    """Return the IDs set in a mask attribute (apmask, aqmask: ``0x`` + 64 hex digits, MSB first)."""
    return mask_to_ids(text.strip())


def parse_qci_mask(text):
    # type: (str) -> Optional[List[int]]
    """Return the IDs of a QCI mask (ap_adapter_mask, ...); None when it reads ``not supported``."""
    if text.strip() == "not supported":
        return None
    return parse_mask(text)


def normalize_mask(text):
    # type: (str) -> str
    """Return a mask attribute as the kernel prints it (lowercase, no newline); ValueError if not a mask."""
    body = text.strip().lower()
    if not re.match(r"^0x[0-9a-f]{64}$", body):
        raise ValueError("expected 0x followed by 64 hex digits, got {0!r}".format(text))
    return body


def parse_features(text):
    # type: (str) -> List[str]
    """Return the sorted tokens of a features attribute (AP bus or vfio_ap matrix).

    The bus prints ``-`` without QCI; that and an empty file are no features. Tokens are kept as
    printed (the vfio_ap driver prints ``hotplug`` where its documentation says ``dyn``).
    """
    tokens = text.split()
    if tokens == ["-"]:
        return []
    for token in tokens:
        if not _FEATURE_RE.match(token):
            raise ValueError("feature token {0!r} is not alphanumeric".format(token))
    return sorted(set(tokens))


def parse_bindings(text):
    # type: (str) -> Dict[str, Any]
    """Return {bound, total, complete} of the bus ``bindings`` attribute (``"3/4"``, ``"4/4 (complete)"``)."""
    match = _BINDINGS_RE.match(text.strip())
    if not match:
        raise ValueError("expected 'bound/total' optionally followed by '(complete)', got {0!r}".format(text))
    return {
        "bound": int(match.group(1)),
        "total": int(match.group(2)),
        "complete": "(complete)" in text,
    }


def parse_functions(text):
    # type: (str) -> int
    """Return the 32-bit ap_functions word of ``"0x%08X\\n"`` (any case); ValueError otherwise."""
    match = _FUNCTIONS_RE.match(text.strip())
    if not match:
        raise ValueError("expected 0x followed by up to 8 hex digits, got {0!r}".format(text))
    return int(match.group(1), 16)


def format_functions(value):
    # type: (int) -> str
    """Return an ap_functions word as the kernel prints it: ``0x`` + 8 uppercase hex digits."""
    return "0x{0:08X}".format(value)


def parse_matrix(text):
    # type: (str) -> Dict[str, List[Any]]
    """Return {adapters, domains, apqns} of an mdev ``matrix`` or ``guest_matrix`` attribute.

    Lines are ``AA.DDDD`` (one per APQN), ``AA.`` (adapters assigned, no domain) or ``.DDDD``
    (domains assigned, no adapter); an empty file means nothing assigned. ``apqns`` holds the
    sorted ``AA.DDDD`` texts of complete lines only; adapters and domains are sorted ints.
    """
    adapters = set()
    domains = set()
    apqns = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _MATRIX_LINE_RE.match(line)
        if not match or (match.group(1) is None and match.group(2) is None):
            raise ValueError("matrix line {0!r} is not AA.DDDD, AA. or .DDDD".format(line))
        adapter = int(match.group(1), 16) if match.group(1) is not None else None
        domain = int(match.group(2), 16) if match.group(2) is not None else None
        if adapter is not None:
            adapters.add(adapter)
        if domain is not None:
            domains.add(domain)
        if adapter is not None and domain is not None:
            apqns.add((adapter, domain))
    return {
        "adapters": sorted(adapters),
        "domains": sorted(domains),
        "apqns": [format_apqn(a, d) for a, d in sorted(apqns)],
    }


def parse_control_domains(text):
    # type: (str) -> List[int]
    """Return the sorted control domains of an mdev ``control_domains`` attribute (one ``%04lx`` per line)."""
    found = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not _CD_LINE_RE.match(line):
            raise ValueError("control domain line {0!r} is not hex".format(line))
        found.add(int(line, 16))
    return sorted(found)


def parse_ap_config(text):
    # type: (str) -> Tuple[List[int], List[int], List[int]]
    """Return (adapters, domains, control_domains) of an mdev ``ap_config`` attribute (three masks)."""
    fields = text.strip().split(",")
    if len(fields) != 3:
        raise ValueError("expected three comma-separated masks, got {0!r}".format(text))
    apm, aqm, adm = (mask_to_ids(field) for field in fields)
    return apm, aqm, adm


def parse_queue_status(text):
    # type: (str) -> str
    """Return the status of a vfio_ap-bound queue: ``unassigned``, ``assigned`` or ``in use``."""
    lines = text.strip().splitlines()
    status = lines[0].strip() if lines else ""
    if status not in QUEUE_STATUSES:
        raise ValueError("expected one of {0}, got {1!r}".format(", ".join(QUEUE_STATUSES), text))
    return status


def parse_driver_link(target):
    # type: (Optional[str]) -> Optional[str]
    """Return the driver name of a device's ``driver`` symlink target (its last component); None if unbound."""
    if not target:
        return None
    name = target.rstrip("/").rsplit("/", 1)[-1]
    return name or None


def parse_driver_override(text):
    # type: (str) -> Optional[str]
    """Return the driver a queue's ``driver_override`` names; None when unset (an empty line)."""
    body = text.strip()
    return None if body in ("", "(null)") else body


def parse_mkvps(text):
    # type: (str) -> Dict[str, Optional[Dict[str, Optional[str]]]]
    """Return the master-key verification patterns of a CCA or EP11 queue's ``mkvps`` attribute.

    Keys are ``<register>_<slot>`` in lowercase: CCA ``aes_new``, ``aes_cur``, ``aes_old``,
    ``apka_*``, ``asym_*``; EP11 ``wk_cur``, ``wk_new``. A slot the card does not report
    (``- -``) maps to None; otherwise to {state, mkvp} where state is the kernel's word
    (``empty|partial|full`` for CCA NEW, ``valid|invalid`` for CUR/OLD and EP11 CUR,
    ``empty|uncommitted|committed`` for EP11 NEW) and mkvp is the lowercase ``0x`` pattern or
    None (EP11 prints ``-`` for an invalid or empty wrapping key). An empty file gives {}.
    """
    result = {}  # type: Dict[str, Optional[Dict[str, Optional[str]]]]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _MKVP_LINE_RE.match(line)
        if not match:
            raise ValueError("mkvps line {0!r} is not '<REG> <NEW|CUR|OLD>: <state> <pattern>'".format(line))
        register, slot, state, pattern = match.groups()
        key = "{0}_{1}".format(register.lower(), slot.lower())
        if state == "-":
            result[key] = None
            continue
        if pattern == "-":
            mkvp = None  # type: Optional[str]
        elif _MKVP_HEX_RE.match(pattern):
            mkvp = pattern.lower()
        else:
            raise ValueError("mkvps pattern {0!r} is not 0x hex or '-'".format(pattern))
        result[key] = {"state": state, "mkvp": mkvp}
    return result


def parse_uuid_name(name):
    # type: (str) -> Optional[str]
    """Return name lowercased when it is a canonical UUID (an mdev or definition name); else None."""
    lowered = name.lower()
    if re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", lowered):
        return lowered
    return None
