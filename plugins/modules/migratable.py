#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: migratable
short_description: Allow or forbid the live migration of the guest using a vfio_ap mdev
version_added: 0.1.0
description:
  - Where the mdev has the per-device C(migratable) sysfs file (kernel migration series v1), writes it. Disabling is
    refused by the kernel with C(EBUSY) while a migration runs; the module retries for up to O(wait) seconds, then
    fails saying a migration is in progress.
  - Where it has none (series v2 and later, and hosts without migration support), keeps the migration guard record
    C(/etc/vfio_ap/migration-guard.json) - a host-local list of mdevs that must not migrate. The collection's
    readiness checks honour it, and the libvirt C(qemu) hook shipped in the C(migratable) role refuses an incoming
    migration of a guarded guest. The record is replaced atomically and other entries are kept.
  - The result says which mechanism was used (RV(mechanism)).
author:
  - s390x.vfio_ap developers (@s390x-ansible)
extends_documentation_fragment:
  - s390x.vfio_ap._attributes
  - s390x.vfio_ap._attributes.platform
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The migratable value (attribute) or the guard entry (guard) before and after.
options:
  uuid:
    description:
      - The mdev's UUID (canonical form). With the guard mechanism the mdev need not exist on this host (a guard on a
        destination host refuses the incoming migration of the guest using that UUID).
    type: str
    required: true
  state:
    description:
      - V(enabled) allows migration, V(disabled) forbids it.
    type: str
    choices: [enabled, disabled]
    default: disabled
  wait:
    description:
      - Seconds to keep retrying while the kernel answers C(EBUSY) (a migration is in progress) to a disable.
    type: int
    default: 30
  reason:
    description:
      - Why migration is disabled, kept in the guard entry (for example a master-key change window).
    type: str
  sysroot:
    description:
      - Directory treated as the filesystem root for C(/sys), C(/etc) and C(/run).
    type: path
    default: /
seealso:
  - module: s390x.vfio_ap.mdev
"""

EXAMPLES = r"""
- name: Freeze migration of the guest using this mdev during a master-key change
  s390x.vfio_ap.migratable:
    uuid: 6c1a0000-0000-4000-8000-00000000a101
    state: disabled
    reason: "CCA master key change CHG0042"
    wait: 60
  register: frozen

- name: Allow it again afterwards
  s390x.vfio_ap.migratable:
    uuid: 6c1a0000-0000-4000-8000-00000000a101
    state: enabled
"""

RETURN = r"""
uuid:
  description: The mdev's UUID.
  returned: always
  type: str
mechanism:
  description: V(attribute) (the mdev's C(migratable) file) or V(guard) (the migration guard record).
  returned: always
  type: str
migratable:
  description: Whether the guest may migrate after the run.
  returned: always
  type: bool
before:
  description: Whether the guest could migrate before the run.
  returned: always
  type: bool
file:
  description: The file written (or that would be written).
  returned: always
  type: str
"""

import errno
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.s390x.vfio_ap.plugins.module_utils._aplock import APConfigLock, LockTimeout
from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, parse_guard, render_guard
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import (
    SysfsWriteError,
    check_uuid,
    exists,
    mdev_attr,
    read_attr,
    read_file,
    sys_path,
    write_attr,
    write_file_atomic,
)

RETRY_DELAY = 0.5


def main():
    """Run the module: the per-mdev attribute where it exists, else the migration guard."""
    module = AnsibleModule(
        argument_spec=dict(
            uuid=dict(type="str", required=True),
            state=dict(type="str", choices=["enabled", "disabled"], default="disabled"),
            wait=dict(type="int", default=30),
            reason=dict(type="str"),
            sysroot=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    sysroot = params["sysroot"]
    try:
        uuid = check_uuid(str(params["uuid"]).strip().lower())
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if params["wait"] < 0:
        module.fail_json(msg="wait: {0} is negative; give the seconds to retry while a migration runs".format(params["wait"]))
    enable = params["state"] == "enabled"
    rel = mdev_attr(uuid, "migratable")
    if exists(sysroot, rel):
        attribute(module, sysroot, uuid, rel, enable)
    guard(module, sysroot, uuid, enable)


def attribute(module, sysroot, uuid, rel, enable):
    """Converge the mdev's migratable file, retrying while a migration makes the kernel answer EBUSY."""
    path = sys_path(sysroot, rel)
    text = read_attr(sysroot, rel)
    if text is None or text.strip() not in ("0", "1"):
        module.fail_json(msg="cannot read {0}: {1!r} is not 0 or 1".format(path, text))
        return
    before = text.strip() == "1"
    result = dict(changed=before != enable, uuid=uuid, mechanism="attribute", migratable=enable, before=before, file=path)
    if module._diff:
        result["diff"] = {"before": {"migratable": before}, "after": {"migratable": enable}}
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)
    deadline = time.time() + module.params["wait"]
    attempts = 0
    while True:
        attempts += 1
        try:
            write_attr(sysroot, rel, "1" if enable else "0")
            break
        except SysfsWriteError as exc:
            if exc.errno == errno.EBUSY and time.time() < deadline:
                time.sleep(RETRY_DELAY)
                continue
            result.update(changed=False, migratable=before, attempts=attempts)
            if exc.errno == errno.EBUSY:
                guest = guest_of(sysroot, uuid)
                exc.detail = "a migration of {0} is still in progress after {1} s ({2} attempts); run again when it has finished".format(
                    "guest " + guest if guest else "the guest using mdev " + uuid, module.params["wait"], attempts
                )
            module.fail_json(msg=str(exc), error=exc.as_dict(), **result)
    result["attempts"] = attempts
    now = read_attr(sysroot, rel)
    result["migratable"] = (now or "").strip() == "1"
    module.exit_json(**result)


def guest_of(sysroot, uuid):
    """Return the libvirt guest using the mdev, or None."""
    facts, _warnings = gather_facts(sysroot, ["mdevs", "guests"])
    for mdev in facts["vfio_ap"]["mdevs"]:
        if mdev["uuid"] == uuid:
            return mdev.get("guest")
    return None


def guard(module, sysroot, uuid, enable):
    """Converge the migration guard entry of uuid, keeping the other entries."""
    path = sys_path(sysroot, GUARD_PATH)
    try:
        entries = parse_guard(read_file(path) or "")
    except ValueError as exc:
        module.fail_json(msg="{0}: {1}; fix or remove the file, nothing was changed".format(path, exc))
    old = entries.get(uuid)
    before = not (old is not None and old.get("migratable") is False)
    reason = module.params["reason"]
    changed = before != enable or (not enable and reason is not None and (old or {}).get("reason") != reason)
    result = dict(changed=changed, uuid=uuid, mechanism="guard", migratable=enable, before=before, file=path)
    new = None
    if not enable:
        new = dict(old or {})
        new.update(migratable=False, guest=guest_of(sysroot, uuid) or (old or {}).get("guest"))
        if reason is not None or "reason" not in new:
            new["reason"] = reason
        if changed or "changed" not in new:
            new["changed"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if module._diff:
        result["diff"] = {"before_header": path, "after_header": path, "before": {"entry": old}, "after": {"entry": new}}
    if module.check_mode or not changed:
        module.exit_json(**result)
    try:
        with APConfigLock(sysroot):
            # Read again under the lock so that a concurrent change of another entry is kept.
            entries = parse_guard(read_file(path) or "")
            if enable:
                entries.pop(uuid, None)
            elif new is not None:
                entries[uuid] = new
            write_file_atomic(path, render_guard(entries), module.atomic_move)
    except (ValueError, OSError, LockTimeout) as exc:
        module.fail_json(
            msg="cannot update the migration guard {0}: {1}; nothing was changed".format(path, exc), **dict(result, changed=False)
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
