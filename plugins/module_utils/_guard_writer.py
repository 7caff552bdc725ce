# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""The migratable module's work: the per-mdev ``migratable`` attribute or the migration guard record.

``decide_guard`` is pure (guard entries + options -> new entry and result). ``apply_guard`` reads
the guard under the transaction's lock, decides and writes it (journalled, 0644, inside the
sysroot), so concurrent runs for different mdevs keep each other's entries and an identical later
run reports no change. ``apply_attribute`` converges the attribute, retrying while the kernel
answers EBUSY (a migration in progress).
"""

import errno
import time
from typing import Any, Callable, Dict, Optional

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, parse_guard, render_guard
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError, host_path, read_text
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import SysfsWriteError, read_attr

RETRY_DELAY = 0.5


def guest_of(sysroot, uuid):
    # type: (str, str) -> Optional[str]
    """Return the libvirt guest using the mdev, or None."""
    facts, _warnings = gather_facts(sysroot, ["mdevs", "guests"])
    for mdev in facts["driver"]["mdevs"]:
        if mdev["uuid"] == uuid:
            return mdev.get("guest")
    return None


def parse_guard_text(path, text):
    # type: (str, Optional[str]) -> Dict[str, Dict[str, Any]]
    """Return the guard entries of text read from path; HostPathError naming the file when malformed."""
    try:
        return parse_guard(text or "")
    except ValueError as exc:
        raise HostPathError("{0}: {1}; fix or remove the file".format(path, exc)) from None


def decide_guard(entries, uuid, enable, reason, guest, now):
    # type: (Dict[str, Dict[str, Any]], str, bool, Optional[str], Optional[str], str) -> Dict[str, Any]
    """Return {"changed", "before", "old", "new", "entries"}: the guard change for uuid (entries untouched)."""
    old = entries.get(uuid)
    before = not (old is not None and old.get("migratable") is False)
    changed = before != enable or (not enable and reason is not None and (old or {}).get("reason") != reason)
    new = None
    if not enable:
        new = dict(old or {})
        new.update(migratable=False, guest=guest or (old or {}).get("guest"))
        if reason is not None or "reason" not in new:
            new["reason"] = reason
        if changed or "changed" not in new:
            new["changed"] = now
    updated = dict(entries)
    if enable:
        updated.pop(uuid, None)
    elif new is not None:
        updated[uuid] = new
    return {"changed": changed, "before": before, "old": old, "new": new, "entries": updated}


def guard_result(sysroot, uuid, enable, decision):
    # type: (str, str, bool, Dict[str, Any]) -> Dict[str, Any]
    """Return the module result of a guard decision."""
    return dict(
        changed=decision["changed"],
        uuid=uuid,
        mechanism="guard",
        migratable=enable,
        before=decision["before"],
        file=host_path(sysroot, GUARD_PATH),
    )


def preview_guard(sysroot, uuid, enable, reason):
    # type: (str, str, bool, Optional[str]) -> Dict[str, Any]
    """Return the guard decision from a read without the lock (check mode); writes nothing."""
    path = host_path(sysroot, GUARD_PATH)
    entries = parse_guard_text(path, read_text(path, "the migration guard"))
    return decide_guard(entries, uuid, enable, reason, guest_of(sysroot, uuid), _now())


def apply_guard(txn, uuid, enable, reason):
    # type: (Any, str, bool, Optional[str]) -> Dict[str, Any]
    """Read, decide and write the guard under txn's lock; return the decision."""
    path = host_path(txn.sysroot, GUARD_PATH)
    entries = parse_guard_text(path, txn.read_file(GUARD_PATH, "the migration guard"))
    decision = decide_guard(entries, uuid, enable, reason, guest_of(txn.sysroot, uuid), _now())
    if decision["changed"]:
        txn.write_file(GUARD_PATH, render_guard(decision["entries"]))
    return decision


def _now():
    # type: () -> str
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_migratable(sysroot, rel):
    # type: (str, str) -> bool
    """Return the value of a migratable attribute; HostPathError when it is not 0 or 1."""
    text = read_attr(sysroot, rel)
    if text is None or text.strip() not in ("0", "1"):
        raise HostPathError("cannot read {0}: {1!r} is not 0 or 1".format(host_path(sysroot, rel), text))
    return text.strip() == "1"


def apply_attribute(txn, uuid, rel, enable, wait, sleep=time.sleep, clock=time.monotonic):
    # type: (Any, str, str, bool, float, Callable[[float], None], Callable[[], float]) -> Dict[str, Any]
    """Converge the migratable attribute under txn's lock, retrying EBUSY for wait seconds; return the result."""
    before = read_migratable(txn.sysroot, rel)
    result = dict(changed=before != enable, uuid=uuid, mechanism="attribute", migratable=enable, before=before,
                  file=host_path(txn.sysroot, rel))  # fmt: skip
    if not result["changed"]:
        return result
    deadline = clock() + wait
    attempts = 0
    while True:
        attempts += 1
        try:
            txn.write_attr(rel, "1" if enable else "0", undo_value="1" if before else "0")
            break
        except SysfsWriteError as exc:
            if exc.errno == errno.EBUSY and clock() < deadline:
                sleep(RETRY_DELAY)
                continue
            if exc.errno == errno.EBUSY:
                guest = guest_of(txn.sysroot, uuid)
                exc.detail = "a migration of {0} is still in progress after {1} s ({2} attempts); run again when it has finished".format(
                    "guest " + guest if guest else "the guest using mdev " + uuid, wait, attempts
                )
            exc.attempts = attempts  # type: ignore[attr-defined]
            raise
    result["attempts"] = attempts
    result["migratable"] = read_migratable(txn.sysroot, rel)
    if result["migratable"] != enable:
        raise RuntimeError("verification failed: {0} reads {1} after writing it".format(result["file"], result["migratable"]))
    return result
