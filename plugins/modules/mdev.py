#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: mdev
short_description: Ensure a vfio_ap mediated device (mdev) with a UUID and an AP configuration
version_added: 0.1.0
description:
  - Creates, reconfigures or removes a vfio_ap mediated device, the object that passes AP adapters, usage domains and
    control domains through to a KVM guest, and optionally its persistent mdevctl definition.
  - Before any write it checks what the kernel would refuse and fails with a message in AP terms naming the APQN and
    the other mdev - APQNs still owned by the host drivers (the kernel's C(EADDRNOTAVAIL)), APQNs assigned to another
    mdev (C(EADDRINUSE)), IDs above the host maximum (C(ENODEV)). A kernel errno that comes anyway is explained the
    same way.
  - Uses the one-shot C(ap_config) write when the vfio_ap C(features) offer it (atomic); otherwise ordered
    C(unassign_*)/C(assign_*) writes with decimal values. On any error the previous configuration is restored and the
    result says what was done.
  - Reads the host, decides and writes under C(/run/lock/s390apconfig.lock), as ap-check and chzdev take it, so
    that identical runs at the same time converge (the later one sees the mdev the earlier one created and reports
    no change). It lets go of the lock only while mdevctl runs, whose ap-check callout takes it itself.
  - An auto-start definition is checked as ap-check checks it before anything is written - other auto-start
    definitions read the way ap-check reads them (C(assign_*) attributes, C(unassign_*) ignored) and the persistent
    AP masks.
  - The adapter and domain options are validated in every state (also O(state=absent)); a list with a null item
    is refused.
author:
  - s390x.vfio_ap developers (@s390x-ansible)
extends_documentation_fragment:
  - s390x.vfio_ap._attributes
  - s390x.vfio_ap._attributes.platform
  - s390x.vfio_ap._options
  - s390x.vfio_ap._options.assign_ids
  - s390x.vfio_ap._attributes.idempotent
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written, not even the lock file; C(changed) says whether a run would write.
  diff_mode:
    support: full
    details:
      - The active configuration and the persistent definition before and after.
options:
  uuid:
    description:
      - The mdev's UUID in canonical form (8-4-4-4-12 hex digits; upper case is accepted and written in lower case).
        To migrate a guest, the destination mdev must have the source mdev's UUID.
    type: str
    required: true
  state:
    description:
      - V(present) creates the mdev if it is missing, then converges its configuration. V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  persistent:
    description:
      - Also define the mdev persistently, so that it exists after a reboot (V(true)); with O(state=absent) also remove
        the definition. Through C(mdevctl) when it is installed and manages O(sysroot), else by writing
        C(/etc/mdevctl.d/matrix/<uuid>) in mdevctl's format.
      - V(false) leaves any definition as it is.
    type: bool
    default: false
  start:
    description:
      - Start mode of the persistent definition - V(auto) starts the mdev at boot, V(manual) on C(mdevctl start).
    type: str
    choices: [auto, manual]
    default: auto
  force:
    description:
      - Allow removing or reconfiguring an mdev that a running guest uses (its queues are C(in use), or the running
        guest's libvirt status XML under C(/run/libvirt/qemu) names it). Without it such a change is refused, because it
        takes crypto resources away from (or hot-plugs them into) a running guest.
    type: bool
    default: false
notes:
  - mdevctl acts on the running system's C(/sys) and C(/etc/mdevctl.d) only; with a O(sysroot) whose directories are
    not those, the module writes the definition file itself (RV(persisted_with=file)).
  - mdevctl 1.2 cannot replace a definition's attributes in one command, so a changed definition is undefined and
    defined again; if the new definition is refused, the old one is defined again.
seealso:
  - module: s390x.vfio_ap.ap_mask
  - module: s390x.vfio_ap.migratable
"""

EXAMPLES = r"""
- name: Reserve the APQNs first (adapter 2, domain 3)
  s390x.vfio_ap.ap_mask:
    domains: 3
    persistent: true

- name: Create the destination mdev for guest hsm1, with the source's UUID, started at boot
  s390x.vfio_ap.mdev:
    uuid: 6c1a0000-0000-4000-8000-00000000a103
    adapters: [2]
    domains: [3]
    control_domains: [3]
    persistent: true
    start: auto

- name: Create an empty landing mdev (kernel migration rules restore the source configuration into it)
  s390x.vfio_ap.mdev:
    uuid: 6c1a0000-0000-4000-8000-00000000a101
    adapters: []
    domains: []
    control_domains: []

- name: Add domain 0x47 to an mdev a running guest uses (hot-plugged into the guest)
  s390x.vfio_ap.mdev:
    uuid: 6c1a0000-0000-4000-8000-00000000a101
    domains: "4,0x47"
    force: true

- name: Remove an mdev and its definition
  s390x.vfio_ap.mdev:
    uuid: 6c1a0000-0000-4000-8000-00000000b202
    state: absent
    persistent: true
"""

RETURN = r"""
uuid:
  description: The mdev's UUID.
  returned: always
  type: str
created:
  description: Whether the mdev was (or would be) created.
  returned: always
  type: bool
removed:
  description: Whether the mdev was (or would be) removed.
  returned: always
  type: bool
before:
  description: The active configuration before, C({adapters, domains, control_domains}) as int lists; null when there
    was no mdev.
  returned: always
  type: dict
after:
  description: The active configuration after (read back; predicted in check mode); null when there is no mdev.
  returned: always
  type: dict
method:
  description: How the configuration was written - V(ap_config) (one atomic write) or V(assign) (ordered writes);
    null when nothing was written to the configuration.
  returned: always
  type: str
writes:
  description: The sysfs writes made (or that would be made), in order, each C({file, value}).
  returned: always
  type: list
  elements: dict
persisted_with:
  description: V(mdevctl) or V(file) when the definition was (or would be) changed, else null.
  returned: always
  type: str
definition:
  description: The persistent definition before and after, each C({start, adapters, domains, control_domains}) or
    null.
  returned: always
  type: dict
restored:
  description: On failure, what was done to restore the previous state (newest first). After a failure
    RV(created), RV(removed), RV(after) and RV(definition) say what is true on the host (read back), and C(changed) is
    false when everything was undone.
  returned: failure
  type: list
  elements: str
writes_made:
  description: On a failure that could not be fully undone, the writes that were made.
  returned: failure
  type: list
  elements: str
conflicts:
  description: On a refusal, what the kernel or ap-check would refuse, each naming the APQN and the other mdev or
    definition.
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _mdev_writer as writer
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError, module_sysroot
from ansible_collections.s390x.vfio_ap.plugins.module_utils._config_plan import PlanError
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_cli import manages_sysroot
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import require_uuid
from ansible_collections.s390x.vfio_ap.plugins.module_utils._transaction import Transaction, TransactionError


def main():
    """Run the module: in check mode preview; else read, decide, write and verify in one locked transaction."""
    module = AnsibleModule(
        argument_spec=dict(
            uuid=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            adapters=dict(type="raw"),
            domains=dict(type="raw"),
            control_domains=dict(type="raw"),
            persistent=dict(type="bool", default=False),
            start=dict(type="str", choices=["auto", "manual"], default="auto"),
            force=dict(type="bool", default=False),
            sysroot=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C", "LANGUAGE": "C"}
    params = module.params
    try:
        uuid = require_uuid(str(params["uuid"]).strip().lower())
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    sysroot = module_sysroot(module)
    for kind in ("adapters", "domains", "control_domains"):  # syntax first, in every state
        try:
            writer.ids_option(params[kind], kind)
        except PlanError as exc:
            module.fail_json(msg=str(exc), changed=False, uuid=uuid)
    binary = module.get_bin_path("mdevctl") if manages_sysroot(sysroot) else None
    mdevctl = writer.Mdevctl(module.run_command, binary, module.tmpdir) if binary else None
    try:
        answer = writer.preview(sysroot, uuid, params, mdevctl is not None)
    except (PlanError, HostPathError) as exc:
        module.fail_json(msg=str(exc), changed=False, uuid=uuid, conflicts=getattr(exc, "conflicts", []))
    result = answer["result"]
    if module._diff:
        result["diff"] = {
            "before": {"active": result["before"], "definition": result["definition"]["before"]},
            "after": {"active": result["after"], "definition": result["definition"]["after"]},
        }
    if module.check_mode:
        module.exit_json(**result)
    before, definition_before = answer["host"]["current"], answer["host"]["definition"]
    try:
        final = Transaction(sysroot).run(lambda txn: writer.apply(txn, uuid, params, mdevctl))
    except TransactionError as exc:
        cause = exc.cause
        failed = writer.failure_result(sysroot, uuid, before, definition_before)
        failed.update(
            changed=not exc.clean,
            restored=exc.restored,
            writes_made=exc.written if not exc.clean else [],
            conflicts=getattr(cause, "conflicts", []),
            error=cause.as_dict() if hasattr(cause, "as_dict") else getattr(cause, "error", None),
        )
        module.fail_json(msg="mdev {0}: {1}".format(uuid, exc) if not str(exc).startswith("mdev ") else str(exc), **failed)
    final.pop("diff", None)
    if module._diff:
        final["diff"] = result["diff"]
    module.exit_json(**final)


if __name__ == "__main__":
    main()
