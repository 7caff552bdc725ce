# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""A refused live migration in AP terms: libvirt's, QEMU's and the kernel's words to reason codes.

When ``virsh migrate`` fails, virsh prints libvirt's or QEMU's error (``error: ...``); when the
vfio_ap driver of the destination (or the source) refused the device state, QEMU only says that
loading the state failed and the reason is in that host's kernel log. The table below maps those
messages to the collection's reason codes (docs/reason-codes.md) and to a few execution codes
(docs/maintenance.md). The kernel lines are the ones the live-migration series logs from
``drivers/s390/crypto/vfio_ap_migration.c`` (restore design) and ``vfio_ap_ops.c`` (assignment
validation); the libvirt/QEMU lines are libvirt's ``virDomainMigrate*`` and QEMU's VFIO messages.

A kernel line is taken as the kernel's reason only when the kernel logged it (a journal record of
the kernel transport, or a log line whose syslog tag is exactly ``kernel:``), about the guest's own
mdev (``vfio_ap_mdev UUID: ...``, not another mdev's line naming it), and when its text is a known
kernel message: one the rule table's ``message`` column quotes (read from ``_reason_codes.CODES``,
not copied), or a line of :data:`KERNEL_TABLE`. Otherwise virsh's error stands as the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import CODES

_APQN = r"([0-9a-fA-F]{2}\.[0-9a-fA-F]{4})"

# (pattern, code). Checked in order against each kernel line, then against virsh's error text;
# every matching row adds its code once. The special code "apqn_absent_or_unbound" is decided with
# the destination's facts (does the queue exist there?).
KERNEL_TABLE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (rf"Queue {_APQN} not available to vfio_ap driver on target host", "apqn_absent_or_unbound"),
        (r"Control domain [0-9a-f]+ not available on the destination host", "control_domain_unavailable"),
        (r"Bind/associate state for source", "secure_execution"),
        (r"AP type of source \(([0-9a-f]+)\) not compatible with target \(([0-9a-f]+)\)", "hw_type_older"),
        (r"(Coprocessor|Accelerator|XCP)-mode\s+facility", "hw_mode_mismatch"),
        (r"(APSC|mex4k|crt4k) facility|APXA|Stateless-command-filtering|SLCF", "hw_facility_mismatch"),
        (r"Full native card function|Only stateless functions", "hw_class_incompatible"),
        (r"may not assign queue|already assigned to another mdev|EADDRINUSE", "apqn_in_use"),
        (r"number of queues on source \(\d+\) and target \(\d+\) guests differ|not assigned to guest matrix", "apqn_set_mismatch"),
        (r"Failed to get hwinfo for queue", "hw_query_failed"),
    )
)
VIRSH_TABLE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"mediated device '[^']*' not found|mediated device .* not found", "mdev_missing"),
        (r"mediated device \S+ is in use by", "mdev_in_use"),
        (r"VFIO migration is not supported in kernel|Unknown savevm section", "no_migration_support"),
        (r"vfio-ap migration guard|migration is blocked|migratable attribute is 0", "migration_disabled"),
        (r"Attempt to migrate guest to the same host", "same_host"),
        (r"Hook script execution failed", "hook_refused"),
        (r"failed to connect to the hypervisor|Could not resolve hostname|Connection refused|No route to host", "host_unreachable"),
        (r"operation timed out|Timed out during operation", "migration_timeout"),
    )
)
# When a row of the first column matched, codes of the second are not reported on their own
# (the guard's refusal also says that a hook failed; a kernel refusal also makes QEMU fail).
_SUBSUMES = {"migration_disabled": {"hook_refused"}}

# A kern.log line: RFC 3339 or traditional time stamp, host name, syslog tag, message.
_SYSLOG_LINE = re.compile(r"^(?:\d{4}-\d\d-\d\dT\S+|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) \S+ (\S+) ?(.*)$")
_PRINTK_TIME = re.compile(r"^\[\s*\d+\.\d+\]\s*")
# The vfio_ap mdev a kernel message is about: dev_*() prefixes the driver and the device (the UUID).
_SUBJECT = re.compile(r"^vfio_ap_mdev:?\s+([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}):?\s*(.*)$")
# Placeholders of the rule table's quoted kernel messages (``message`` column of _reason_codes).
_PLACEHOLDERS = (
    ("<uuid>", r"[0-9a-fA-F-]{36}"),
    ("AA.DDDD", _APQN),
    ("DDDD", r"[0-9a-fA-F]{4}"),
    ("N", r"\d+"),
)
_TOKEN = re.compile(r"(\.\.\.|<uuid>|AA\.DDDD|DDDD|\bN\b|\(\w{1,2}\)|\s+)")


_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def _without_subject(fragment: str) -> str:
    """Return a quoted kernel message without its ``vfio_ap_mdev <uuid>:`` prefix."""
    return _SUBJECT.sub(r"\2", fragment.replace("<uuid>", _ZERO_UUID), count=1).replace(_ZERO_UUID, "<uuid>")


def _template(fragment: str) -> re.Pattern[str]:
    """Return the pattern of one quoted kernel message of the rule table (placeholders become groups)."""
    parts = []
    for token in _TOKEN.split(fragment):
        if not token:
            continue
        if token == "...":
            parts.append(".*")
        elif token.isspace():
            parts.append(r"\s+")
        elif token.startswith("(") and token.endswith(")") and len(token) <= 4:
            parts.append(r"\(([0-9a-fA-F]+)\)")
        else:
            parts.append(dict(_PLACEHOLDERS).get(token, re.escape(token)))
    return re.compile("".join(parts) + r"\s*", re.IGNORECASE)


def rule_table_messages() -> dict[str, tuple[str, ...]]:
    """Return ``{quoted kernel message: codes}`` of the rule table: each message the ``message`` column of a
    kernel-enforced code quotes (a text of several words in backticks, without the ``vfio_ap_mdev <uuid>:``
    prefix), with every code quoting it."""
    found: dict[str, tuple[str, ...]] = {}
    for code in CODES:
        if code.enforced_by != "kernel":
            continue
        for fragment in re.findall(r"`([^`]+)`", code.message):
            if len(fragment.split()) >= 3:
                fragment = _without_subject(fragment)
                found[fragment] = (*found.get(fragment, ()), code.code)
    return found


_KNOWN: tuple[re.Pattern[str], ...] = tuple(_template(f) for f in rule_table_messages())


def known_kernel_message(body: str) -> bool:
    """Return whether a kernel message (without the ``vfio_ap_mdev <uuid>:`` prefix) is one the rule table knows.

    Known: a message the rule table's ``message`` column quotes, or one of :data:`KERNEL_TABLE`'s
    lines (the per-property lines the kernel adds to an incompatible queue, the assignment and
    TAPQ refusals), each of which maps to a code of the rule table.
    """
    return any(p.fullmatch(body) for p in _KNOWN) or any(p.search(body) for p, _code in KERNEL_TABLE)


def _syslog_message(raw: str) -> str | None:
    """Return the message of a kern.log line whose syslog tag is exactly ``kernel:``, else None."""
    match = _SYSLOG_LINE.match(raw)
    if not match or match.group(1) != "kernel:":
        return None
    return _PRINTK_TIME.sub("", match.group(2), count=1)


def _journal_message(raw: str) -> str | None:
    """Return the message of a ``journalctl -o json`` record of the kernel transport (facility kern), else None."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("_TRANSPORT") != "kernel" or record.get("SYSLOG_FACILITY", "0") != "0":
        return None
    message = record.get("MESSAGE")
    if isinstance(message, list) and all(isinstance(b, int) and 0 <= b < 256 for b in message):
        message = bytes(message).decode("utf-8", "replace")
    return message if isinstance(message, str) else None


LOG_FORMATS = {"syslog": _syslog_message, "journal": _journal_message}


def kernel_lines(text: Any, uuid: str, log_format: str = "syslog") -> list[str]:
    """Return the kernel's known vfio_ap messages about mdev ``uuid`` in a log excerpt, without log prefixes.

    ``log_format``: ``syslog`` (``/var/log/kern.log``: only lines whose syslog tag is exactly
    ``kernel:``) or ``journal`` (``journalctl -k -o json``: only records of the kernel transport).
    A line counts when the kernel logged it for this mdev (``vfio_ap_mdev UUID: ...``, not another
    mdev's line naming it) and its text is a known kernel message (:func:`known_kernel_message`).
    None or '' gives [].
    """
    if not isinstance(text, str) or not text:
        return []
    read = LOG_FORMATS.get(log_format)
    if read is None:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
    found = []
    for raw in text.splitlines():
        message = (read(raw) or "").strip()
        subject = _SUBJECT.match(message)
        if subject and subject.group(1).lower() == str(uuid).lower() and known_kernel_message(subject.group(2)):
            found.append(message)
    return found


def _queue_exists(facts: Mapping[str, Any] | None, apqn: str) -> bool | None:
    """Return whether a queue exists in a host's facts, or None when the facts are not known."""
    if not isinstance(facts, Mapping) or not isinstance(facts.get("queues"), list):
        return None
    return any(q.get("apqn") == apqn.lower() for q in facts["queues"])


def refusal_codes(
    virsh_error: Any, kernel: Iterable[str] = (), destination_facts: Mapping[str, Any] | None = None
) -> tuple[list[str], str]:
    """Return (reason codes, one-line reason) of a refused migration.

    ``virsh_error``: what virsh printed on stderr; ``kernel``: the kernel lines of the attempt (see
    :func:`kernel_lines`); ``destination_facts``: the destination's ``ansible_facts.vfio_ap`` after
    the refusal, used to tell ``apqn_not_installed`` (the queue does not exist there) from
    ``apqn_not_bound``. The codes keep the table's order; ``migration_refused`` when nothing is
    recognised. The reason is the kernel's lines when there are any (they name the cause), else
    virsh's error lines, joined by ``; ``.
    """
    lines = [str(line) for line in kernel or []]
    codes: list[str] = []
    for line in lines:
        for pattern, code in KERNEL_TABLE:
            match = pattern.search(line)
            if not match:
                continue
            if code == "apqn_absent_or_unbound":
                exists = _queue_exists(destination_facts, match.group(1))
                code = "apqn_not_installed" if exists is False else "apqn_not_bound"
            elif code == "hw_type_older" and int(match.group(1), 16) <= int(match.group(2), 16):
                continue  # series v1 logs the AP type line even when the target is the same or newer
            if code not in codes:
                codes.append(code)
    text = str(virsh_error or "")
    virsh_codes = [code for pattern, code in VIRSH_TABLE if pattern.search(text)]
    for code in virsh_codes:
        if any(code in _SUBSUMES.get(other, ()) for other in virsh_codes) or code in codes:
            continue
        if codes and code in ("migration_timeout",):
            continue
        codes.append(code)
    errors = [line.removeprefix("error: ").strip() for line in text.splitlines() if line.strip()]
    errors = [e for e in errors if e and not e.startswith("Migration: [")]
    reason = "; ".join(lines) if lines else "; ".join(errors)
    return (codes or ["migration_refused"]), (reason or "virsh migrate failed without a message")
