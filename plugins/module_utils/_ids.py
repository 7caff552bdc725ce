# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""AP IDs, 256-bit AP masks and APQNs: the one parser and formatter of the collection.

Adapters (APIDs), usage domains and control domains (APQIs) are integers 0..255.
Masks are the kernel's text: ``0x`` + 64 lowercase hex digits, most significant bit first,
so the leftmost bit is ID 0. An APQN is ``AA.DDDD`` (2 + 4 lowercase hex digits). An mdev is named
by a UUID in its canonical form (8-4-4-4-12 lowercase hex digits), as sysfs and mdevctl write it.
"""

import re
from typing import Any, Iterable, List, Optional, Sequence, Tuple

MAX_ID = 255
MASK_BITS = 256
MASK_HEX_DIGITS = MASK_BITS // 4

_NUMBER_RE = re.compile(r"^(?:0[xX][0-9a-fA-F]+|[0-9]+)$")
_MASK_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_APQN_RE = re.compile(r"^([0-9a-fA-F]{2})\.([0-9a-fA-F]{4})$")
# An mdev UUID as sysfs names it (canonical, lowercase): safe as a path component.
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _parse_number(text, what):
    # type: (str, str) -> int
    token = text.strip()
    if not _NUMBER_RE.match(token):
        raise ValueError("{0}: {1!r} is not a number (use decimal or 0x hex)".format(what, text))
    return int(token, 16) if token[:2].lower() == "0x" else int(token, 10)


def _require_range(value, what, maximum):
    # type: (int, str, int) -> int
    if value < 0 or value > maximum:
        raise ValueError("{0}: ID {1} is outside 0..{2}".format(what, value, maximum))
    return value


def _parse_token(token, what, maximum):
    # type: (str, str, int) -> List[int]
    token = token.strip()
    if not token:
        raise ValueError("{0}: empty ID in a list of IDs".format(what))
    first, sep, last = token.partition("-")
    if sep and not first.strip():
        raise ValueError("{0}: {1!r} is not an ID or a range (IDs are 0..{2}; there are no negative IDs)".format(what, token, maximum))
    if not sep:
        return [_require_range(_parse_number(first, what), what, maximum)]
    low = _require_range(_parse_number(first, what), what, maximum)
    high = _require_range(_parse_number(last, what), what, maximum)
    if low > high:
        raise ValueError("{0}: range {1!r} runs backwards".format(what, token))
    return list(range(low, high + 1))


def is_uuid(value, any_case=False):
    # type: (Any, bool) -> bool
    """Return True when value is an mdev UUID (canonical lowercase; ``any_case`` also takes upper-case hex digits)."""
    if not isinstance(value, str):
        return False
    return bool(UUID_RE.fullmatch(value.lower() if any_case else value))


def is_mask_text(value):
    # type: (Any) -> bool
    """Return True when value is a kernel mask text (``0x`` + 64 hex digits)."""
    return isinstance(value, str) and bool(_MASK_RE.match(value.strip()))


def parse_ids(value, what="ids", maximum=MAX_ID, allow_mask=False):
    # type: (Any, str, int, bool) -> List[int]
    """Return the sorted, de-duplicated IDs that value names.

    value is None (no IDs), an int, a string of comma-separated IDs and inclusive ranges
    (each decimal or ``0x`` hex: ``"0-3,0x47"``), or a list of such items. With allow_mask,
    a kernel mask text (``0x`` + 64 hex digits) is read as the set of its bits.
    Raises ValueError naming ``what`` for anything else.
    """
    if value is None:
        return []
    if isinstance(value, bool):
        raise ValueError("{0}: {1!r} is a boolean, not an ID".format(what, value))
    if isinstance(value, int):
        return [_require_range(value, what, maximum)]
    if isinstance(value, str):
        if allow_mask and is_mask_text(value):
            ids = mask_to_ids(value)
            for item in ids:
                _require_range(item, what, maximum)
            return ids
        if not value.strip():
            return []
        found = set()  # type: set
        for token in value.split(","):
            found.update(_parse_token(token, what, maximum))
        return sorted(found)
    if isinstance(value, (list, tuple, set, frozenset)):
        found = set()
        for item in value:
            if item is None:
                raise ValueError("{0}: the list {1!r} has a null item; give IDs only".format(what, list(value)))
            if isinstance(item, (list, tuple, set, frozenset, dict)):
                raise ValueError("{0}: nested item {1!r} is not an ID".format(what, item))
            found.update(parse_ids(item, what, maximum, allow_mask))
        return sorted(found)
    raise ValueError("{0}: expected an ID, a string of IDs and ranges or a list, got {1}".format(what, type(value).__name__))


def ids_to_int(ids):
    # type: (Iterable[int]) -> int
    """Return the 256-bit integer whose MSB-first bits are the IDs."""
    bits = 0
    for item in ids:
        _require_range(item, "mask", MAX_ID)
        bits |= 1 << (MASK_BITS - 1 - item)
    return bits


def int_to_ids(bits):
    # type: (int) -> List[int]
    """Return the IDs (ascending) of the MSB-first bits set in a 256-bit integer."""
    return [i for i in range(MASK_BITS) if bits >> (MASK_BITS - 1 - i) & 1]


def ids_to_mask(ids):
    # type: (Iterable[int]) -> str
    """Return the kernel mask text (``0x`` + 64 lowercase hex digits) with the IDs set."""
    return "0x{0:064x}".format(ids_to_int(ids))


def mask_to_ids(text):
    # type: (str) -> List[int]
    """Return the IDs set in a mask text as the kernel prints it (``0x`` + up to 64 hex digits).

    Fewer digits are padded on the right, as the kernel reads an absolute mask.
    Raises ValueError for anything that is not hex.
    """
    if not isinstance(text, str):
        raise ValueError("mask: expected text, got {0}".format(type(text).__name__))
    digits = text.strip()
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    if len(digits) > MASK_HEX_DIGITS or not re.match(r"^[0-9a-fA-F]*$", digits):
        raise ValueError("mask: {0!r} is not 0x followed by at most 64 hex digits".format(text))
    if not digits:
        return []
    return int_to_ids(int(digits.ljust(MASK_HEX_DIGITS, "0"), 16))


def format_apqn(adapter, domain):
    # type: (int, int) -> str
    """Return the APQN text ``AA.DDDD`` of an adapter and a domain."""
    return "{0:02x}.{1:04x}".format(adapter, domain)


def parse_apqn(text):
    # type: (str) -> Tuple[int, int]
    """Return (adapter, domain) of an APQN text ``AA.DDDD``; ValueError otherwise."""
    match = _APQN_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError("APQN {0!r} is not of the form AA.DDDD (hex)".format(text))
    return int(match.group(1), 16), int(match.group(2), 16)


def expand_apqns(adapters, domains):
    # type: (Iterable[int], Iterable[int]) -> List[Tuple[int, int]]
    """Return the APQNs (adapter, domain) of the cross product, adapters outer, both ascending."""
    doms = sorted(set(domains))
    return [(a, d) for a in sorted(set(adapters)) for d in doms]


def compress_ids(ids):
    # type: (Iterable[int]) -> str
    """Return IDs as the shortest decimal list of ranges (``"0-3,7"``); empty string for none."""
    out = []  # type: List[str]
    run = []  # type: List[int]
    for item in sorted(set(ids)):
        if run and item == run[-1] + 1:
            run.append(item)
            continue
        if run:
            out.append(_run_text(run))
        run = [item]
    if run:
        out.append(_run_text(run))
    return ",".join(out)


def _run_text(run):
    # type: (Sequence[int]) -> str
    return str(run[0]) if len(run) == 1 else "{0}-{1}".format(run[0], run[-1])


def relative_mask_update(set_ids, clear_ids):
    # type: (Iterable[int], Iterable[int]) -> Optional[str]
    """Return the kernel's relative apmask/aqmask syntax for a change, or None when empty.

    Set bits hand IDs to the host drivers (``+``), clear bits reserve them for vfio_ap (``-``);
    numbers are decimal and consecutive IDs become ranges (``"-4-7,+9"``).
    """
    terms = []  # type: List[str]
    for sign, ids in (("+", set_ids), ("-", clear_ids)):
        compressed = compress_ids(ids)
        if compressed:
            terms.extend(sign + part for part in compressed.split(","))
    return ",".join(terms) if terms else None
