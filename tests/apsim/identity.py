"""What identifies a simulated host's machine: ``/etc/machine-id``, ``/proc/sysinfo`` and the CPC name.

A real LPAR answers STSI (store system information) with its CPC's manufacturer, machine type,
model and sequence code (STSI 1.1.1) and its own LPAR number and name (STSI 2.2.2); Linux prints
them in ``/proc/sysinfo`` (``arch/s390/kernel/sysinfo.c``: labels padded to 22 columns, strings
padded to their field width, the LPAR number in decimal). The CPC name set on the HMC comes with
an SCLP event and is shown in ``/sys/firmware/ocf/cpc_name`` (``drivers/s390/char/sclp_ocf.c``).
systemd's ``/etc/machine-id`` is 32 lowercase hex digits and a newline.

Fleet keys (all optional; defaults are derived from the host name so every host differs):
``machine_id``, ``cpc: {type, model, sequence, name}``, ``lpar: {name, number}``, or
``same_as: OTHER`` for a second inventory name of the same LPAR (identical identity).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

# Machine types: z14 3906/3907, z15 8561/8562, z16 3931/3932, z17 9175
CPC_MODELS = {"3906": "M05", "3907": "ZR1", "8561": "T01", "8562": "T02", "3931": "A01", "3932": "A02", "9175": "ME1"}
MACHINE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
NAME_RE = re.compile(r"^[A-Z0-9@#$]{1,8}$")
SEQUENCE_RE = re.compile(r"^[0-9A-Z]{1,16}$")


@dataclass(frozen=True)
class Identity:
    machine_id: str
    cpc_type: str
    cpc_model: str
    cpc_sequence: str  # 16 characters
    cpc_name: str  # empty: no OCF event seen (cpc_name shows an empty line)
    lpar_name: str
    lpar_number: int


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def default_identity(host: str) -> Identity:
    """Return the identity a host gets when the fleet says nothing: a z16 whose sequence code,
    LPAR number and machine-id derive from the host name, LPAR name = the name's letters and
    digits (upper case, at most 8), CPC name ``CPC`` + the sequence code's last 5 characters."""
    digest = _digest(host)
    sequence = ("0000000000" + digest[:6]).upper()
    lpar_name = re.sub(r"[^A-Z0-9]", "", host.upper())[:8] or "LPAR"
    return Identity(
        machine_id=digest[32:64],
        cpc_type="3931",
        cpc_model=CPC_MODELS["3931"],
        cpc_sequence=sequence,
        cpc_name="CPC" + sequence[-5:],
        lpar_name=lpar_name,
        lpar_number=int(digest[6:8], 16) % 85 + 1,
    )


def with_changes(base: Identity, **changes: object) -> Identity:
    """Return base with the given fields replaced."""
    return replace(base, **changes)


def sysinfo_text(ident: Identity) -> str:
    """Return ``/proc/sysinfo`` of an LPAR (configuration level 2) in the kernel's layout."""
    lines = [
        f"Manufacturer:         {'IBM':<16.16}",
        f"Type:                 {ident.cpc_type:<4.4}",
        f"Model:                {'701':<16.16} {ident.cpc_model:<16.16}",
        f"Sequence Code:        {ident.cpc_sequence:<16.16}",
        f"Plant:                {'02':<4.4}",
        f"Model Capacity:       {'701':<16.16} 00000000",
        "",
        "CPU Topology HW:      0 0 0 4 4 16",
        "CPU Topology SW:      0 0 0 4 4 16",
        "CPUs Total:           16",
        "CPUs Configured:      8",
        "CPUs Standby:         8",
        "CPUs Reserved:        0",
        "Capability:           2890",
        "",
        f"LPAR Number:          {ident.lpar_number}",
        "LPAR Characteristics: Shared ",
        f"LPAR Name:            {ident.lpar_name:<8.8}",
        "LPAR Adjustment:      250",
        "LPAR CPUs Total:      8",
        "LPAR CPUs Configured: 8",
        "LPAR CPUs Standby:    0",
        "LPAR CPUs Reserved:   0",
        "LPAR CPUs Dedicated:  0",
        "LPAR CPUs Shared:     8",
    ]
    return "\n".join(lines) + "\n"


def host_files(ident: Identity) -> dict[str, str]:
    """Return the files outside ``sys/`` that carry the identity (relative path -> text)."""
    return {"etc/machine-id": ident.machine_id + "\n", "proc/sysinfo": sysinfo_text(ident)}
