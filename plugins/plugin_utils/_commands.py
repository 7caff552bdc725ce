# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The ``virsh migrate`` command: one builder for the argv the drain runs and the text the plans print.

:class:`MigrateCommand` holds how a migration is run (program, options, ``--timeout``, the
destination URI template); :meth:`MigrateCommand.argv` builds the argument vector and
:meth:`MigrateCommand.text` the same command quoted for a POSIX shell. The guest is always the value
of ``--domain`` and the URI the value of ``--desturi``, so no guest name can land in option
position, and a name virsh would read as something else (a domain ID, a UUID) or that cannot be
printed on one line is refused. Host names and addresses that go into URIs are checked first: an
inventory name such as ``kvm-b1$(touch /tmp/x)`` never reaches a command.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import require_count

try:
    import netaddr
except ImportError:  # pragma: no cover - exercised when the controller lacks netaddr
    netaddr = None

# A DNS name or inventory name usable as the host part of a libvirt URI (RFC 1123 labels; '_' as
# inventories allow it). No shell or URI metacharacters can pass.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$"
)
# What a command line cannot show on one line: controls, lone surrogates, bidirectional overrides.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# virsh looks a --domain value up as a domain ID first (a number), then as a UUID, then as a name.
_DOMAIN_ID = re.compile(r"^[0-9]+$")
_DOMAIN_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
# libvirt keeps a domain as <name>.xml: a file name of at most 255 bytes.
_NAME_BYTES = 251


def host_name_problem(name: Any) -> str | None:
    """Return why ``name`` cannot be the host of a libvirt URI, or None when it can."""
    if not isinstance(name, str) or not _HOST_NAME.match(name):
        return f"host name {name!r} is not a valid host name for a qemu+ssh URI (letters, digits, '-', '_' and '.')"
    return None


def guest_name_problem(name: Any) -> str | None:
    """Return why ``name`` cannot be given to ``virsh migrate --domain`` as the guest's name, or None when it can.

    Refused: no name, a name libvirt cannot hold (``/``) or that cannot be shown on one line
    (control characters, bidirectional overrides), and names virsh would look up as something
    else: a number (a domain ID) or a UUID.
    """
    if not isinstance(name, str) or not name:
        return f"guest name {name!r} is not a libvirt domain name"
    shown = name.encode("unicode_escape", "backslashreplace").decode("ascii")
    if _UNPRINTABLE.search(name):
        return f"guest name '{shown}' holds control or direction characters; migrate it by hand"
    if "/" in name or len(name.encode("utf-8", "surrogatepass")) > _NAME_BYTES:
        return f"guest name '{shown}' is not a libvirt domain name ('/' or longer than {_NAME_BYTES} bytes)"
    if _DOMAIN_ID.match(name):
        return f"guest name '{shown}' would be read by virsh as a domain ID; migrate it by hand with its domain UUID"
    if _DOMAIN_UUID.match(name):
        return f"guest name '{shown}' would be read by virsh as a domain UUID; migrate it by hand"
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


def _uri_host(address: Any, destination: str) -> str:
    """Return the host part of ``--migrateuri tcp://...`` for an IP address or a host name; ValueError otherwise."""
    text = str(address)
    try:
        ip = ipaddress.ip_address(text[1:-1] if text.startswith("[") and text.endswith("]") else text)
    except ValueError:
        problem = host_name_problem(text)
        if problem:
            raise ValueError(f"migration address of {destination}: {problem}") from None
        return text
    return f"[{ip}]" if ip.version == 6 else str(ip)


def _words(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"{name}: expected a list of strings, got {value!r}")
    words = tuple(value)
    for word in words:
        if not isinstance(word, str) or not word or _UNPRINTABLE.search(word):
            raise ValueError(f"{name}: {word!r} is not a command word (a non-empty string on one line)")
    return words


@dataclass(frozen=True)
class MigrateCommand:
    """How a live migration is run: ``command`` + ``options`` + ``--timeout N`` + ``--domain GUEST --desturi URI``.

    ``timeout`` (seconds; None or 0 leaves it out): virsh suspends the guest after it so that the
    migration converges. ``uri``: the destination's libvirt URI, ``{host}`` replaced by its name.
    Build one with :meth:`of`, which checks every part.
    """

    command: tuple[str, ...] = ("virsh", "migrate")
    options: tuple[str, ...] = ("--live", "--persistent", "--undefinesource", "--verbose")
    timeout: int | None = None
    uri: str = "qemu+ssh://{host}/system"

    @classmethod
    def of(
        cls,
        command: Any = ("virsh", "migrate"),
        options: Any = ("--live", "--persistent", "--undefinesource", "--verbose"),
        timeout: Any = None,
        uri: Any = "qemu+ssh://{host}/system",
        names: Mapping[str, str] | None = None,
    ) -> MigrateCommand:
        """Return a checked MigrateCommand; ValueError naming the part that is wrong.

        ``names``: how a message names each part (``{command, options, timeout, uri}``; default those words), for
        example the role variable a user set.
        """
        name = {"command": "command", "options": "options", "timeout": "timeout", "uri": "uri", **(names or {})}
        words = _words(command, name["command"])
        if not words:
            raise ValueError(f"{name['command']}: expected the migration program and its verb, got an empty list")
        seconds = None if timeout in (None, "") else require_count(timeout, f"{name['timeout']} (seconds, 0 for none)") or None
        if not isinstance(uri, str) or "{host}" not in uri or _UNPRINTABLE.search(uri):
            raise ValueError(f"{name['uri']}: {uri!r} has no {{host}} (where the destination's name goes, e.g. qemu+ssh://{{host}}/system)")
        return cls(words, _words(options, name["options"]), seconds, uri)

    def argv(self, guest: Any, destination: Any, address: Any = None) -> list[str]:
        """Return the argument vector migrating ``guest`` live to ``destination``.

        ``address``: the destination's migration address (IP or host name) for ``--migrateuri
        tcp://ADDRESS``, or None. ValueError for a guest name (:func:`guest_name_problem`), host
        name or address that cannot be used.
        """
        problem = host_name_problem(destination) or guest_name_problem(guest)
        if problem:
            raise ValueError(problem)
        argv = [*self.command, *self.options]
        if self.timeout:
            argv += ["--timeout", str(self.timeout)]
        argv += ["--domain", guest, "--desturi", self.uri.replace("{host}", destination)]
        if address not in (None, ""):
            argv += ["--migrateuri", f"tcp://{_uri_host(address, destination)}"]
        return argv

    def text(self, guest: Any, destination: Any, address: Any = None) -> str:
        """Return :meth:`argv` as one line for a POSIX shell (every word quoted as needed)."""
        return shlex.join(self.argv(guest, destination, address))


# The command the plans print for an administrator: no --verbose or --timeout (a person watches it).
PRINTED = MigrateCommand(options=("--live", "--persistent", "--undefinesource"))


def migrate_command(guest: Any, destination: Any, address: Any = None) -> str:
    """Return the printed ``virsh migrate --live`` command moving ``guest`` to ``destination`` (:data:`PRINTED`).

    ``address`` adds ``--migrateuri tcp://ADDRESS``. ValueError as :meth:`MigrateCommand.argv`.
    """
    return PRINTED.text(guest, destination, address)
