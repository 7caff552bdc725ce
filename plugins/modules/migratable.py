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
    migration of a guarded guest. The record is read, changed and replaced atomically (mode 0644) under
    C(/run/lock/s390apconfig.lock), so concurrent runs keep each other's entries.
  - The result says which mechanism was used (RV(mechanism)).
author:
  - s390x.vfio_ap developers (@s390x-ansible)
extends_documentation_fragment:
  - s390x.vfio_ap._attributes
  - s390x.vfio_ap._attributes.platform
  - s390x.vfio_ap._options
  - s390x.vfio_ap._attributes.idempotent
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
restored:
  description: On a failure after a write was made, what was done to undo it.
  returned: failure
  type: list
  elements: str
"""

import contextlib
from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _guard_writer as writer
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError, module_sysroot
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import require_uuid, exists, mdev_attr
from ansible_collections.s390x.vfio_ap.plugins.module_utils._transaction import Transaction, TransactionError


def main():
    """Run the module: the per-mdev attribute where it exists, else the migration guard, in one locked transaction."""
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
    try:
        uuid = require_uuid(str(params["uuid"]).strip().lower())
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if params["wait"] < 0:
        module.fail_json(msg="wait: {0} is negative; give the seconds to retry while a migration runs".format(params["wait"]))
    sysroot = module_sysroot(module)
    enable = params["state"] == "enabled"
    rel = mdev_attr(uuid, "migratable")
    attribute = exists(sysroot, rel)
    try:
        if attribute:
            if module.check_mode:
                before = writer.read_migratable(sysroot, rel)
                result = dict(changed=before != enable, uuid=uuid, mechanism="attribute", migratable=enable, before=before,
                              file=writer.host_path(sysroot, rel))  # fmt: skip
            else:
                result = Transaction(sysroot).run(lambda txn: writer.apply_attribute(txn, uuid, rel, enable, params["wait"]))
            diff = {"before": {"migratable": result["before"]}, "after": {"migratable": result["migratable"]}}
        else:
            if module.check_mode:
                decision = writer.preview_guard(sysroot, uuid, enable, params["reason"])
            else:
                decision = Transaction(sysroot).run(lambda txn: writer.apply_guard(txn, uuid, enable, params["reason"]))
            result = writer.guard_result(sysroot, uuid, enable, decision)
            diff = {"before_header": result["file"], "after_header": result["file"],
                    "before": {"entry": decision["old"]}, "after": {"entry": decision["new"]}}  # fmt: skip
    except HostPathError as exc:
        module.fail_json(msg=str(exc), changed=False, uuid=uuid)
    except TransactionError as exc:
        cause = exc.cause
        facts = dict(mechanism="attribute" if attribute else "guard")  # type: Dict[str, Any]
        if attribute:
            with contextlib.suppress(HostPathError):
                facts.update(migratable=writer.read_migratable(sysroot, rel), attempts=getattr(cause, "attempts", None))
        module.fail_json(msg=str(exc), changed=not exc.clean, uuid=uuid, restored=exc.restored,
                         error=cause.as_dict() if hasattr(cause, "as_dict") else None, **facts)  # fmt: skip
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
