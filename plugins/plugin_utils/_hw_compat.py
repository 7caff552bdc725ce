# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The live-migration series' queue hardware rules, over the facility words the kernel compares.

A queue's hardware is a :class:`Word`: its facility word (the 32 bits ``ap_functions`` shows, the
upper half of TAPQ GR2) and its AP type (TAPQ's AT field, the card's ``raw_hwtype``). The series
compare two such words in one of two designs (docs/kernel-interface.md, "Hardware compatibility"):

- ``restore`` (series v3 and later, ``queue_hardware_info_is_compatible`` in
  drivers/s390/crypto/vfio_ap_migration.c): words from a fresh TAPQ on both hosts; APSC, AP4KM,
  AP4KC, each of the three mode bits (CCA, accelerator, XCP), APXA and SLCF equal one by one, the
  destination's AP type not older, a full-native source needs a full-native destination, and both
  bind states 0.
- ``validate`` (series v1/v2): the destination compares the source's saved word with the word its
  queue copied from its card at probe (the card's mask hides the bind state): equal words
  (facilities, modes, the whole classification byte and the bind state) and a destination AP
  type not older.

A word that could not be read, or that carries no mode bit (TAPQ answered without hardware
information: response code 1, queue not available), cannot be compared: :func:`word_problem`.
"""

from __future__ import annotations

from typing import NamedTuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hwinfo import (
    APSC,
    APXA,
    BS_MASK,
    BS_SHIFT,
    CLASS_NATIVE,
    CRT4K,
    MEX4K,
    MODE_ACCEL,
    MODE_CCA,
    MODE_EP11,
    MODE_MASK,
    SLCF,
)
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import ORDER

DESIGNS = ("restore", "validate")
# What the series v1/v2 compare: the card-cached word's function bits (TAPQ_CARD_HWINFO_MASK's upper half).
CACHED_MASK = 0xFFFF0000
# What the restore design reads of a queue's own word: facilities, modes, classification and bind state.
TAPQ_MASK = 0xFFFFC000
CLASS_MASK = 0x00FF0000
# The bits compared one by one, in the kernel's reporting order: (bit, code, name in findings).
BITS = (
    (APSC, "hw_facility_mismatch", "APSC"),
    (MEX4K, "hw_facility_mismatch", "AP4KM"),
    (CRT4K, "hw_facility_mismatch", "AP4KC"),
    (MODE_CCA, "hw_mode_mismatch", "CCA-coprocessor mode"),
    (MODE_ACCEL, "hw_mode_mismatch", "accelerator mode"),
    (MODE_EP11, "hw_mode_mismatch", "XCP (EP11) mode"),
    (APXA, "hw_facility_mismatch", "APXA"),
    (SLCF, "hw_facility_mismatch", "SLCF"),
)


class Word(NamedTuple):
    """A queue's hardware as TAPQ gives it: facility word (None: not read) and AP type (None: not known)."""

    fac: int | None
    at: int | None


def word_problem(word: Word) -> str | None:
    """Return why a word cannot be compared (not read, no hardware information, AP type unknown), or None."""
    if word.fac is None:
        return "its hardware word (ap_functions) could not be read: TAPQ answered with an error"
    if not word.fac & MODE_MASK:
        return f"its hardware word reads 0x{word.fac:08x}, without a mode bit: TAPQ gave no hardware information (queue not available)"
    if word.at is None:
        return "its AP type is unknown"
    return None


def bind_state(fac: int | None) -> int:
    """Return the Secure Execution bind/associate state (0-3) of a facility word (0 when unknown)."""
    return (fac & BS_MASK) >> BS_SHIFT if fac is not None else 0


def differences(src: Word, dst: Word, design: str) -> list[tuple[str, str]]:
    """Return [(code, detail)] of why a source queue's word is incompatible with a destination's, one per code.

    Both words must be comparable (:func:`word_problem` None). ``design`` is ``restore`` or
    ``validate``; details name each differing property.
    """
    if src.fac is None or dst.fac is None or src.at is None or dst.at is None:
        raise ValueError(f"hardware words not comparable: {src}, {dst}")
    found: dict[str, list[str]] = {}
    if design == "validate" and (src.fac & TAPQ_MASK) == (dst.fac & TAPQ_MASK) and src.at <= dst.at:
        return []
    for bit, code, name in BITS:
        if bool(src.fac & bit) != bool(dst.fac & bit):
            have = ("set" if src.fac & bit else "not set", "set" if dst.fac & bit else "not set")
            if code == "hw_facility_mismatch":
                have = ("installed" if src.fac & bit else "missing", "installed" if dst.fac & bit else "missing")
            found.setdefault(code, []).append(f"{name} {have[0]} on the source, {have[1]} on the destination")
    if src.at > dst.at:
        found.setdefault("hw_type_older", []).append(
            f"destination card is older (AP type {dst.at:02x}) than the source's (AP type {src.at:02x})"
        )
    src_class, dst_class = (src.fac & CLASS_MASK) >> 16, (dst.fac & CLASS_MASK) >> 16
    src_bs, dst_bs = bind_state(src.fac), bind_state(dst.fac)
    if design == "validate":
        if src_class != dst_class:
            found.setdefault("hw_class_incompatible", []).append(
                f"classification byte 0x{src_class:02x} on the source, 0x{dst_class:02x} on the destination; series v1/v2 require it equal"
            )
        if src_bs != dst_bs:
            found.setdefault("secure_execution", []).append(
                f"bind/associate state source {src_bs}, destination {dst_bs}; series v1/v2 require the words equal"
            )
    else:
        if src.fac & CLASS_NATIVE and not dst.fac & CLASS_NATIVE:
            found.setdefault("hw_class_incompatible", []).append(
                "source has full native card function, destination only stateless functions"
            )
        if src_bs or dst_bs:
            found.setdefault("secure_execution", []).append(f"bind/associate state source {src_bs}, destination {dst_bs}; both must be 0")
    return [(code, "; ".join(texts)) for code, texts in sorted(found.items(), key=lambda kv: ORDER[kv[0]])]
