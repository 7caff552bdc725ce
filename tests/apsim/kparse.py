"""The kernel's own parsers for values written to AP sysfs attributes.

These are deliberately the simulator's own (not the collection's): they model what the kernel
accepts, so that the collection's writers are tested against an independent oracle.
Each function raises ``OSError(EINVAL)`` exactly where the kernel's store handler would.
"""

from __future__ import annotations

import errno
import re
import uuid as uuidlib

_HEX = "0123456789abcdefABCDEF"


def einval(what: str) -> OSError:
    return OSError(errno.EINVAL, f"Invalid argument: {what}")


def simple_strtoul(text: str, pos: int) -> tuple[int, int]:
    """Return (value, end position) of the base-0 number at pos, as the kernel's simple_strtoul.

    ``0x`` prefix = hex, a leading ``0`` = octal, else decimal; stops at the first character that
    is not a digit of the base; end == pos when no digit was read.
    """
    base = 10
    i = pos
    if text[i : i + 1] == "0":
        if text[i + 1 : i + 2] in ("x", "X") and text[i + 2 : i + 3] and text[i + 2] in _HEX:
            base, i = 16, i + 2
        else:
            base = 8
    digits = {8: "01234567", 10: "0123456789", 16: _HEX}[base]
    start = i
    while i < len(text) and text[i] in digits:
        i += 1
    if i == start:
        return 0, pos
    return int(text[start:i], base), i


def kstrtoul(text: str) -> int:
    """Return the number written, parsed as ``kstrtoul(buf, 0)``: whole buffer, one optional newline.

    EINVAL for anything that is not one base-0 number, ERANGE above the 64-bit range.
    """
    value = _kstrtoul(text)
    if value >= 1 << 64:
        raise OSError(errno.ERANGE, f"Numerical result out of range: {text!r}")
    return value


def _kstrtoul(text: str) -> int:
    body = text[:-1] if text.endswith("\n") else text
    if body.startswith("+"):
        body = body[1:]
    if not body:
        raise einval(repr(text))
    if body[:2] in ("0x", "0X"):
        if len(body) == 2 or any(c not in _HEX for c in body[2:]):
            raise einval(repr(text))
        return int(body[2:], 16)
    if body[0] == "0":
        if any(c not in "01234567" for c in body):
            raise einval(repr(text))
        return int(body, 8)
    if not body.isdigit() or not body.isascii():
        raise einval(repr(text))
    return int(body, 10)


def kstrtoint_dec(text: str) -> int:
    """Return the number written, parsed as ``kstrtoint(buf, 10)`` (decimal only, optional sign)."""
    body = text[:-1] if text.endswith("\n") else text
    if not re.fullmatch(r"[+-]?[0-9]+", body):
        raise einval(repr(text))
    return int(body, 10)


def kstrtoint_base0(text: str) -> int:
    """Return a signed int parameter as ``kstrtoint(buf, 0)`` reads it (module ``int`` parameters), else EINVAL."""
    body = text[:-1] if text.endswith("\n") else text
    sign = -1 if body.startswith("-") else 1
    value = _kstrtoul(body[1:] if body[:1] in ("+", "-") else body)
    if value > 2**31 - (1 if sign > 0 else 0):
        raise OSError(errno.ERANGE, f"Numerical result out of range: {text!r}")
    return sign * value


def sscanf_int(text: str) -> int:
    """Return the leading decimal integer of text as ``sscanf(buf, "%d")`` would, else EINVAL."""
    match = re.match(r"\s*([+-]?[0-9]+)", text)
    if not match:
        raise einval(repr(text))
    return int(match.group(1))


def sscanf_i(text: str) -> int:
    """Return the leading integer as ``sscanf(buf, "%i")`` reads it (base 0, optional sign), else EINVAL.

    Trailing characters after the number are ignored, as sscanf ignores them.
    """
    match = re.match(r"\s*([+-]?)", text)
    sign = -1 if match.group(1) == "-" else 1
    start = match.end()
    value, end = simple_strtoul(text, start)
    if end == start:
        raise einval(repr(text))
    return sign * value


def hex2bitmap(text: str, bits: int = 256) -> set[int]:
    """Return the IDs of an absolute mask text as ``ap_hex2bitmap`` reads it (MSB-first)."""
    i = 0
    if text[:2] == "0x":
        i = 1
    if text[i : i + 1] == "x":
        i += 1
    ids: set[int] = set()
    bit = 0
    while i < len(text) and text[i] in _HEX and bit < bits:
        value = int(text[i], 16)
        for n in range(4):
            if value & (0x08 >> n):
                ids.add(bit + n)
        bit += 4
        i += 1
    if text[i : i + 1] == "\n":
        i += 1
    if i != len(text):
        raise einval(repr(text))
    return ids


def modify_bitmap(text: str, current: set[int], bits: int = 256) -> set[int]:
    """Return current changed by relative terms ``+N``, ``-N``, ``+A-B``, ``-A-B`` (left to right)."""
    result = set(current)
    i = 0
    while i < len(text):
        sign = text[i]
        i += 1
        if sign not in "+-":
            raise einval(repr(text))
        low, end = simple_strtoul(text, i)
        if end == i or low >= bits:
            raise einval(repr(text))
        high, i = low, end
        if text[i : i + 1] == "-":
            high, end = simple_strtoul(text, i + 1)
            if end == i + 1 or low > high or high >= bits:
                raise einval(repr(text))
            i = end
        for item in range(low, high + 1):
            if sign == "+":
                result.add(item)
            else:
                result.discard(item)
        while i < len(text) and text[i] in ",\n":
            i += 1
    return result


def parse_mask_write(text: str, current: set[int]) -> set[int]:
    """Return the new apmask/aqmask IDs for a write: relative when it starts with + or -."""
    if text[:1] in ("+", "-"):
        return modify_bitmap(text, current)
    return hex2bitmap(text)


def parse_ap_config(text: str) -> tuple[set[int], set[int], set[int]]:
    """Return (adapters, domains, control domains) of an ``ap_config`` write (201-char limit)."""
    rest: str | None = text[:201]
    fields = []
    for _unused in range(3):
        if rest is None:
            raise einval(repr(text))
        cut = min((p for p in (rest.find(","), rest.find("\n")) if p >= 0), default=-1)
        if cut < 0:
            field, rest = rest, None
        else:
            field, rest = rest[:cut], rest[cut + 1 :]
        fields.append(hex2bitmap(field))
    return fields[0], fields[1], fields[2]


def parse_uuid(text: str) -> str:
    """Return the canonical UUID written to ``create`` (36 chars, optional newline), else EINVAL."""
    if len(text) not in (36, 37) or (len(text) == 37 and not text.endswith("\n")):
        raise einval(repr(text))
    body = text[:36]
    if not re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", body):
        raise einval(repr(text))
    return str(uuidlib.UUID(body))
