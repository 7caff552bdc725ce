# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""Shell commands the plans print for an administrator (or a job) to run: ``virsh migrate``.

Every part of a command is quoted for a POSIX shell, and the host names and addresses that go into
URIs are checked first: an inventory name such as ``kvm-b1$(touch /tmp/x)`` never reaches a command.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

try:
    import netaddr
except ImportError:  # pragma: no cover - exercised when the controller lacks netaddr
    netaddr = None

# A DNS name or inventory name usable as the host part of a libvirt URI (RFC 1123 labels; '_' as
# inventories allow it). No shell or URI metacharacters can pass.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$"
)


def host_name_problem(name: Any) -> str | None:
    """Return why ``name`` cannot be the host of a libvirt URI, or None when it can."""
    if not isinstance(name, str) or not _HOST_NAME.match(name):
        return f"host name {name!r} is not a valid host name for a qemu+ssh URI (letters, digits, '-', '_' and '.')"
    return None


def uri_address(value: Any, host: str, network: Any) -> tuple[str | None, str | None]:
    """Return (URI host part, problem) of a host's migration address, checked against the network (if any)."""
    if value is None:
        return None, f"{host} has no vfio_ap_migration_address"
    try:
        address = netaddr.IPAddress(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None, f"{host}: vfio_ap_migration_address {value!r} is not an IP address"
    if network is not None and address not in network:
        return None, f"{host}: address {address} is not in migration_network {network}"
    return (f"[{address}]" if address.version == 6 else str(address)), None


def migrate_command(guest: str, destination: str, uri_host: str | None = None) -> str:
    """Return the ``virsh migrate --live`` command moving ``guest`` to ``destination``, every part quoted.

    ``uri_host`` (an address from uri_address) adds ``--migrateuri tcp://...``. ValueError when
    the destination is not a valid host name.
    """
    problem = host_name_problem(destination)
    if problem:
        raise ValueError(problem)
    argv = ["virsh", "migrate", "--live", "--persistent", "--undefinesource", guest, f"qemu+ssh://{destination}/system"]
    if uri_host is not None:
        argv += ["--migrateuri", f"tcp://{uri_host}"]
    return shlex.join(argv)
