# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""AP hardware information: the ap_functions word and card types.

``ap_functions`` is the upper 32 bits of the TAPQ GR2 value (``struct ap_tapq_hwinfo``), bit 0
being the most significant (docs/kernel-interface.md, "The facility word")::

    0x80000000 S    apsc   AP special-command facility
    0x40000000 M    mex4k  4096-bit modular-exponent facility (AP4KM)
    0x20000000 C    crt4k  4096-bit CRT facility (AP4KC)
    0x10000000 D    cca    CCA coprocessor mode
    0x08000000 A    accel  accelerator mode
    0x04000000 X    ep11   EP11 (XCP) coprocessor mode
    0x02000000 N    apxa   AP extended addressing
    0x01000000      slcf   stateless command filtering (CEX8+)
    0x00800000      class: full native card function
    0x00400000      class: only stateless functions
    0x0000C000      bs     Secure Execution bind/associate state (0..3), queue attribute only

The AP type (``raw_hwtype``) is GR2 bits 32-39 and not part of the word. The migration
compatibility rules that compare two such words live on the controller (plugin_utils/_readiness.py).
"""

import re
from typing import Any, Dict, Optional, Tuple

APSC = 0x80000000
MEX4K = 0x40000000
CRT4K = 0x20000000
MODE_CCA = 0x10000000
MODE_ACCEL = 0x08000000
MODE_EP11 = 0x04000000
APXA = 0x02000000
SLCF = 0x01000000
CLASS_NATIVE = 0x00800000
CLASS_STATELESS = 0x00400000
BS_MASK = 0x0000C000
BS_SHIFT = 14

# Mode bits in the order lszcrypt reads them (D, A, X); real hardware sets exactly one.
MODE_BITS = (("cca", MODE_CCA), ("accel", MODE_ACCEL), ("ep11", MODE_EP11))
MODES = ("cca", "accel", "ep11")
MODE_LETTERS = {"C": "cca", "A": "accel", "P": "ep11"}
MODE_NAMES = {"cca": "CCA-Coproc", "accel": "Accelerator", "ep11": "EP11-Coproc"}
MODE_MASK = MODE_CCA | MODE_ACCEL | MODE_EP11
# hwtype (the compatible AP type) -> CEX generation; raw types above 14 are newer cards.
HWTYPE_GENERATION = {10: 4, 11: 5, 12: 6, 13: 7, 14: 8}
FACILITIES = (("apsc", APSC), ("mex4k", MEX4K), ("crt4k", CRT4K), ("apxa", APXA), ("slcf", SLCF))
SE_STATES = {0: "usable", 1: "usable, no secure keys", 2: "available for binding", 3: "unusable"}
_TYPE_RE = re.compile(r"^CEX([0-9]+)([ACP])$")


def mode_of_functions(functions):
    # type: (int) -> Optional[str]
    """Return ``cca``, ``accel`` or ``ep11`` from the mode bits (D before A before X); None if none is set."""
    for name, bit in MODE_BITS:
        if functions & bit:
            return name
    return None


def bs_of_functions(functions):
    # type: (int) -> int
    """Return the Secure Execution bind/associate state (0..3) held in an ap_functions word."""
    return (functions & BS_MASK) >> BS_SHIFT


def capabilities(functions, hwtype=None):
    # type: (int, Optional[int]) -> Dict[str, Any]
    """Return the hardware capabilities of an ap_functions word, as facts report them.

    Keys: apsc, mex4k, crt4k, apxa, slcf, native, stateless, and the mode bits cca, accel, ep11
    (bools: real hardware sets exactly one mode bit, the migration compares each), mode (``cca``/
    ``accel``/``ep11`` from the first mode bit set, D before A before X, or None), bs (0..3) and
    hwtype (the raw AP type passed in, or None).
    """
    caps = {name: bool(functions & bit) for name, bit in FACILITIES}  # type: Dict[str, Any]
    for name, bit in MODE_BITS:
        caps[name] = bool(functions & bit)
    caps["mode"] = mode_of_functions(functions)
    caps["native"] = bool(functions & CLASS_NATIVE)
    caps["stateless"] = bool(functions & CLASS_STATELESS)
    caps["bs"] = bs_of_functions(functions)
    caps["hwtype"] = hwtype
    return caps


def functions_of_capabilities(caps):
    # type: (Dict[str, Any]) -> int
    """Return the ap_functions word a capabilities dict describes (the inverse of capabilities())."""
    value = 0
    for name, bit in FACILITIES:
        if caps.get(name):
            value |= bit
    mode = caps.get("mode")
    bits = [name for name, _bit in MODE_BITS if caps.get(name)]
    for name, bit in MODE_BITS:
        if name in bits or (not bits and mode == name):
            value |= bit
    if caps.get("native"):
        value |= CLASS_NATIVE
    if caps.get("stateless"):
        value |= CLASS_STATELESS
    value |= (int(caps.get("bs") or 0) & 3) << BS_SHIFT
    return value


def parse_card_type(text):
    # type: (str) -> Tuple[int, str]
    """Return (generation, mode) of a zcrypt card type such as ``CEX8C`` -> (8, ``cca``); ValueError otherwise."""
    match = _TYPE_RE.match(text.strip())
    if not match:
        raise ValueError("card type {0!r} is not CEX<generation><A|C|P>".format(text))
    return int(match.group(1)), MODE_LETTERS[match.group(2)]


def generation_of_hwtype(hwtype):
    # type: (int) -> Optional[int]
    """Return the CEX generation of a (compatible) AP type, 10 -> 4 ... 14 -> 8; None for other values."""
    return HWTYPE_GENERATION.get(hwtype)


def card_type_name(hwtype, mode):
    # type: (int, str) -> Optional[str]
    """Return the zcrypt type string (``CEX8C``) for an AP type and mode; None when either is unknown."""
    generation = generation_of_hwtype(hwtype)
    letter = {v: k for k, v in MODE_LETTERS.items()}.get(mode)
    if generation is None or letter is None:
        return None
    return "CEX{0}{1}".format(generation, letter)
