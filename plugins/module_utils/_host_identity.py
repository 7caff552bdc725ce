# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""What identifies the machine a KVM host runs on: parsers for /proc/sysinfo, /etc/machine-id and
the CPC name, and the ``host`` block of the facts built from them.

``/proc/sysinfo`` is the kernel's rendering of STSI (store system information,
``arch/s390/kernel/sysinfo.c``): one ``Label: value`` line each, labels padded to 22 columns,
values padded to their field width. The CPC (central processor complex, the machine) is named by
``Manufacturer``, ``Type`` (machine type, e.g. 3931 = z16 A01, 9175 = z17) and ``Sequence Code``
(16 characters, unique per machine of a type); the LPAR by ``LPAR Number`` (decimal) and
``LPAR Name``. Two inventory names that reach the same LPAR have the same CPC type, sequence code
and LPAR number. ``/sys/firmware/ocf/cpc_name`` (``drivers/s390/char/sclp_ocf.c``) holds the CPC
name set on the HMC (an empty line until the machine sent it).
"""

import re
from typing import Any, Dict, Optional

_MACHINE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_LABELS = {
    "Manufacturer": "manufacturer",
    "Type": "type",
    "Model": "model",
    "Sequence Code": "sequence_code",
    "Plant": "plant",
    "LPAR Number": "lpar_number",
    "LPAR Name": "lpar_name",
    "LPAR Extended Name": "lpar_extended_name",
    "LPAR UUID": "lpar_uuid",
}


def parse_sysinfo(text):
    # type: (str) -> Dict[str, Any]
    """Return the machine and LPAR fields of a /proc/sysinfo text.

    Keys: manufacturer, type, model, sequence_code, plant, lpar_number (int), lpar_name,
    lpar_extended_name, lpar_uuid; None when the line is absent (a level-1 system has no LPAR
    lines). Only the first line of each label counts (z/VM guests repeat names per level as
    ``VMnn`` lines, which are not read). ``model`` is the machine model (the second word of the
    ``Model:`` line, e.g. A01), or the first word when there is only one. Raises ValueError for an
    ``LPAR Number`` that is not a decimal number, or a text without a ``Type:`` line.
    """
    found = dict.fromkeys(_LABELS.values())  # type: Dict[str, Any]
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        key = _LABELS.get(label.strip())
        if not sep or key is None or found[key] is not None:
            continue
        value = value.strip()
        if key == "model":
            words = value.split()
            value = words[1] if len(words) > 1 else (words[0] if words else "")
        if key == "lpar_number":
            if not value.isdigit():
                raise ValueError("LPAR Number {0!r} is not a decimal number".format(value))
            found[key] = int(value)
            continue
        found[key] = value or None
    if found["type"] is None:
        raise ValueError("no 'Type:' line (not an s390 /proc/sysinfo)")
    return found


def parse_machine_id(text):
    # type: (str) -> Optional[str]
    """Return the machine ID of an /etc/machine-id text (32 lowercase hex digits), or None when the
    file is empty or says ``uninitialized`` (first boot). Raises ValueError for anything else."""
    value = text.strip()
    if not value or value == "uninitialized":
        return None
    if not _MACHINE_ID_RE.match(value):
        raise ValueError("{0!r} is not 32 lowercase hexadecimal digits".format(value[:40]))
    return value


def parse_cpc_name(text):
    # type: (str) -> Optional[str]
    """Return the CPC name of /sys/firmware/ocf/cpc_name, or None when it is empty (not yet known)."""
    value = text.strip()
    return value or None


def host_identity(machine_id, sysinfo, cpc_name):
    # type: (Optional[str], Optional[Dict[str, Any]], Optional[str]) -> Dict[str, Any]
    """Return the facts' ``host`` block: {machine_id, cpc, lpar}.

    ``cpc`` is {manufacturer, type, model, sequence_code, name} and ``lpar`` {name, number}, each
    None when /proc/sysinfo is unknown (``lpar`` also when the system is not in an LPAR);
    ``cpc.name`` is None when the CPC name is unknown.
    """
    cpc = None  # type: Optional[Dict[str, Any]]
    lpar = None  # type: Optional[Dict[str, Any]]
    if sysinfo is not None:
        cpc = {
            "manufacturer": sysinfo["manufacturer"],
            "type": sysinfo["type"],
            "model": sysinfo["model"],
            "sequence_code": sysinfo["sequence_code"],
            "name": cpc_name,
        }
        if sysinfo["lpar_number"] is not None or sysinfo["lpar_name"] is not None:
            lpar = {"name": sysinfo["lpar_name"], "number": sysinfo["lpar_number"]}
    return {"machine_id": machine_id, "cpc": cpc, "lpar": lpar}
