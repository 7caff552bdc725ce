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
  - Takes C(/run/lock/s390apconfig.lock) around its sysfs and definition-file writes, as ap-check and chzdev do
    (it does not hold it while mdevctl runs, whose ap-check callout takes it itself).
author:
  - s390x.vfio_ap developers (@s390x-ansible)
extends_documentation_fragment:
  - s390x.vfio_ap._attributes
  - s390x.vfio_ap._attributes.platform
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
  adapters:
    description:
      - Adapter IDs (APIDs) to assign. An int, a decimal or C(0x) hex string, a range (C("0x04-0x07")), a
        comma-separated string of those, or a list of them. V([]) assigns none.
      - Omitted keeps the current adapters (none for a new mdev).
    type: raw
  domains:
    description:
      - Usage-domain IDs (APQIs) to assign, in the same forms as O(adapters). Omitted keeps the current ones.
    type: raw
  control_domains:
    description:
      - Control-domain IDs to assign, in the same forms as O(adapters). Omitted keeps the current ones.
      - Control domains without any usage domain are refused (ap-check refuses such a definition).
    type: raw
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
  sysroot:
    description:
      - Directory treated as the filesystem root for C(/sys), C(/etc) and C(/run).
      - Must be C(/) or an existing directory holding C(sys/); anything else is refused before anything is read
        or written. No file is written outside it, not even through a symbolic link inside it.
    type: path
    default: /
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
  description: On failure, what was done to restore the previous state.
  returned: failure
  type: list
  elements: str
"""

import errno
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.s390x.vfio_ap.plugins.module_utils._aplock import APConfigLock, LockTimeout
from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._libvirt_xml import parse_domain_xml
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdev_plan import (
    KINDS,
    PlanError,
    check_config,
    definition_conflicts,
    explain_errno,
    mdev_config,
    parse_config,
    plan_writes,
    state_from_facts,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_cli import MdevctlError, manages_sysroot
from ansible_collections.s390x.vfio_ap.plugins.module_utils import _mdevctl_cli as mdevctl_cli
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_config import definition_path, render_definition
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import RULES_PATH, persistent_masks
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import (
    CREATE,
    SysfsWriteError,
    check_uuid,
    mdev_attr,
    read_file,
    sys_path,
    write_attr,
    write_file_atomic,
)

EMPTY = {"adapters": [], "domains": [], "control_domains": []}  # type: dict


class Failed(Exception):
    """A step failed; message says what, in AP terms."""

    def __init__(self, message, error=None):
        Exception.__init__(self, message)
        self.error = error


class MdevRun:
    """One run of the module: the state read, the steps done and how to undo them."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.sysroot = params["sysroot"]
        try:
            self.uuid = check_uuid(str(params["uuid"]).strip().lower())
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        self.undo = []  # list of (description, callable) in the order done
        self.restored = []
        self.read()
        self.mdevctl = module.get_bin_path("mdevctl") if manages_sysroot(self.sysroot) else None

    # ------------------------------------------------------------------ reading
    def read(self):
        """Read the host's state (facts, planning state, this mdev, its definition) again; returns None."""
        facts, _warnings = gather_facts(self.sysroot, ["bus", "mdevs", "definitions", "guests"])
        if not facts["vfio_ap"]["loaded"]:
            self.module.fail_json(
                msg="the vfio_ap module is not loaded (no {0})".format(sys_path(self.sysroot, "sys/devices/vfio_ap/matrix"))
            )
        self.facts = facts
        self.state = state_from_facts(facts)
        self.current = mdev_config(self.state, self.uuid)
        self.info = self.state["mdevs"].get(self.uuid) or {}
        self.definition = None
        for entry in facts["vfio_ap"]["definitions"]:
            if entry["uuid"] == self.uuid:
                self.definition = {k: entry[k] for k in ("start",) + KINDS}

    def running_guest(self):
        """Return the running libvirt guest whose status XML (run/libvirt/qemu) names this mdev, or None."""
        directory = sys_path(self.sysroot, "run/libvirt/qemu")
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return None
        for name in names:
            if not name.endswith(".xml"):
                continue
            try:
                doc = parse_domain_xml(read_file(os.path.join(directory, name)) or "", name)
            except (ValueError, OSError):
                continue
            if doc["running"] and self.uuid in doc["mdevs"]:
                return doc["name"]
        return None

    def in_use_refusal(self, doing):
        """Fail unless force is set when a guest uses the mdev (queues in use, or a running guest names it)."""
        if self.module.params["force"]:
            return
        guest = self.running_guest() if not self.info.get("in_use") else self.info.get("guest")
        if self.info.get("in_use") or guest:
            self.module.fail_json(
                msg="mdev {0} is in use by a running guest{1}; {2} would change the guest's crypto "
                "resources while it runs; set force: true to do it anyway".format(self.uuid, " ({0})".format(guest) if guest else "", doing)
            )

    # ------------------------------------------------------------------ sysfs steps
    def write(self, rel, value, config=None):
        """Write one sysfs attribute; raise Failed with the errno explained for config (AP terms); returns None."""
        try:
            write_attr(self.sysroot, rel, value)
        except SysfsWriteError as exc:
            if config is not None and exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.ENODEV):
                self.read()
                exc.detail = explain_errno(self.state, self.uuid, config, exc.errno)
            raise Failed(str(exc), exc.as_dict()) from exc

    def apply_config(self, current, desired):
        """Write the configuration change; return the writes as {file, value}."""
        writes = plan_writes(current, desired, self.state["ap_config"])
        done = []
        for attr, value in writes:
            rel = mdev_attr(self.uuid, attr)
            self.write(rel, value, desired)
            done.append({"file": sys_path(self.sysroot, rel), "value": value})
            if len(done) == 1:
                self.undo.append(
                    ("restore the configuration of mdev {0}".format(self.uuid), lambda before=dict(current): self.restore_config(before))
                )
        return done

    def restore_config(self, before):
        """Write the mdev's configuration back to before (from a fresh read); returns None."""
        self.read()
        now = mdev_config(self.state, self.uuid)
        if now is None:
            raise Failed("mdev {0} no longer exists".format(self.uuid))
        for attr, value in plan_writes(now, before, self.state["ap_config"]):
            self.write(mdev_attr(self.uuid, attr), value)

    def create(self):
        """Create the mdev and record its removal as the undo step; returns None."""
        self.write(CREATE, self.uuid)
        self.undo.append(("remove the mdev {0} created by this run".format(self.uuid), self.remove))

    def remove(self):
        """Remove the mdev through its ``remove`` attribute; returns None."""
        self.write(mdev_attr(self.uuid, "remove"), "1")

    # ------------------------------------------------------------------ persistent steps
    def set_definition(self, wanted):
        """Make the definition wanted ({start, adapters, ...} or None); record the undo step."""
        old = self.definition
        self._definition_to(old, wanted)
        self.undo.append(("restore the definition of mdev {0}".format(self.uuid), lambda: self._definition_to(wanted, old)))

    def _definition_to(self, old, new):
        """Turn definition old into new (None = undefined) with mdevctl or the file; raise Failed; returns None."""
        if self.mdevctl:
            run = self.module.run_command
            try:
                if new is None:
                    if old is not None:
                        mdevctl_cli.undefine(run, self.mdevctl, self.uuid)
                    return
                if old is not None and all(old[k] == new[k] for k in KINDS):
                    mdevctl_cli.set_start(run, self.mdevctl, self.uuid, new["start"])
                    return
                if old is not None:
                    mdevctl_cli.undefine(run, self.mdevctl, self.uuid)
                try:
                    mdevctl_cli.define(run, self.mdevctl, self.uuid, self.jsonfile(new))
                except MdevctlError:
                    if old is not None:
                        mdevctl_cli.define(run, self.mdevctl, self.uuid, self.jsonfile(old))
                    raise
            except MdevctlError as exc:
                raise Failed(str(exc)) from exc
            return
        path = sys_path(self.sysroot, definition_path(self.uuid))
        try:
            with APConfigLock(self.sysroot):
                if new is None:
                    if os.path.exists(path):
                        os.unlink(path)
                else:
                    write_file_atomic(path, render(new), self.module.atomic_move)
        except (OSError, LockTimeout) as exc:
            raise Failed("cannot write the mdevctl definition {0}: {1}".format(path, exc)) from exc

    def jsonfile(self, definition):
        """Return the path of a temporary mdevctl JSON file holding definition."""
        path = os.path.join(self.module.tmpdir, "mdev-{0}.json".format(self.uuid))
        with open(path, "w") as handle:
            handle.write(render(definition))
        return path

    def rollback(self):
        """Undo the recorded steps, newest first; return True when everything was restored."""
        clean = True
        for text, step in reversed(self.undo):
            try:
                step()
                self.restored.append("did " + text)
            except (Failed, SysfsWriteError, LockTimeout, OSError) as exc:
                self.restored.append("could NOT " + text + ": " + str(exc))
                clean = False
        self.undo = []
        return clean


def render(definition):
    """Return the mdevctl definition text of {start, adapters, domains, control_domains}."""
    return render_definition(definition["start"], definition["adapters"], definition["domains"], definition["control_domains"])


def main():
    """Run the module: decide, check, then act (or only report in check mode)."""
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
    run = MdevRun(module)
    uuid = run.uuid
    before = run.current
    result = dict(  # type: dict
        changed=False,
        uuid=uuid,
        created=False,
        removed=False,
        before=before,
        after=before,
        method=None,
        writes=[],
        persisted_with=None,
        definition={"before": run.definition, "after": run.definition},
    )

    if params["state"] == "absent":
        want_def = None if params["persistent"] else run.definition
        remove = before is not None
        if remove:
            run.in_use_refusal("removing it")
        def_change = want_def != run.definition
        result.update(changed=remove or def_change, removed=remove, after=None)
        result["definition"]["after"] = want_def
        if remove:
            result["writes"] = [{"file": sys_path(run.sysroot, mdev_attr(uuid, "remove")), "value": "1"}]
        if def_change:
            result["persisted_with"] = "mdevctl" if run.mdevctl else "file"
    else:
        try:
            desired = parse_config(run.state, params["adapters"], params["domains"], params["control_domains"], before)
        except PlanError as exc:
            module.fail_json(msg=str(exc), **result)
        writes = plan_writes(before or EMPTY, desired, run.state["ap_config"])
        if before is None or writes:
            try:
                check_config(run.state, uuid, desired)
            except PlanError as exc:
                module.fail_json(msg="mdev {0}: {1}".format(uuid, exc), conflicts=exc.conflicts, **result)
        if before is not None and writes:
            run.in_use_refusal("reconfiguring it")
        want_def = dict(start=params["start"], **desired) if params["persistent"] else run.definition
        def_change = want_def != run.definition
        if def_change and want_def is not None and want_def["start"] == "auto":
            refused = autostart_refusals(run, desired)
            if refused:
                module.fail_json(msg="mdev {0}: {1}".format(uuid, "; ".join(c["message"] for c in refused)), conflicts=refused, **result)
        result.update(changed=bool(before is None or writes or def_change), created=before is None, after=desired)
        result["definition"]["after"] = want_def
        result["method"] = ("ap_config" if run.state["ap_config"] else "assign") if writes else None
        result["writes"] = [{"file": sys_path(run.sysroot, mdev_attr(uuid, a)), "value": v} for a, v in writes]
        if before is None:
            result["writes"].insert(0, {"file": sys_path(run.sysroot, CREATE), "value": uuid})
        if def_change:
            result["persisted_with"] = "mdevctl" if run.mdevctl else "file"

    if module._diff:
        result["diff"] = {
            "before": {"active": before, "definition": run.definition},
            "after": {"active": result["after"], "definition": result["definition"]["after"]},
        }
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    try:
        if params["state"] == "absent":
            execute_absent(run, result, want_def)
        else:
            execute_present(run, result, desired, want_def)
    except (Failed, LockTimeout) as exc:
        clean = run.rollback()
        result["restored"] = run.restored
        result["changed"] = not clean
        run.read()
        result["after"] = run.current
        message = "mdev {0}: {1}".format(uuid, exc)
        if run.restored:
            message += (
                "; "
                + ("the previous state was restored" if clean else "the previous state could NOT be fully restored")
                + " ("
                + "; ".join(run.restored)
                + ")"
            )
        else:
            message += "; nothing was changed"
        module.fail_json(msg=message, error=getattr(exc, "error", None), **result)
    run.read()
    result["after"] = run.current
    result["definition"]["after"] = run.definition
    module.exit_json(**result)


def autostart_refusals(run, desired):
    """Return what ap-check would refuse in an auto-start definition of desired (other auto definitions, persistent masks)."""
    try:
        masks = persistent_masks(read_file(sys_path(run.sysroot, RULES_PATH)), run.state["apmask"], run.state["aqmask"])
    except ValueError as exc:
        run.module.fail_json(msg="cannot read the persistent AP masks: {0}".format(exc))
    definitions = run.facts["vfio_ap"]["definitions"]
    return definition_conflicts(definitions, run.uuid, desired, masks["apmask"], masks["aqmask"])


def execute_present(run, result, desired, want_def):
    """Define (if asked), create, then converge the active configuration; undo steps are recorded in run."""
    if want_def != run.definition:
        run.set_definition(want_def)
    created_by_mdevctl = False
    if run.current is None and run.mdevctl and run.module.params["persistent"]:
        try:
            mdevctl_cli.start(run.module.run_command, run.mdevctl, run.uuid)
        except MdevctlError as exc:
            run.read()
            if run.current is not None:
                run.undo.append(("remove the mdev {0} mdevctl left behind".format(run.uuid), run.remove))
            raise Failed(str(exc)) from exc
        run.undo.append(("stop the mdev {0} started by this run".format(run.uuid), run.remove))
        created_by_mdevctl = True
    with APConfigLock(run.sysroot):
        if run.current is None and not created_by_mdevctl:
            run.create()
        run.read()
        current = run.current if run.current is not None else dict(EMPTY)
        done = run.apply_config(current, desired)
    if created_by_mdevctl:
        result["writes"] = done
        result["method"] = ("ap_config" if run.state["ap_config"] else "assign") if done else None


def execute_absent(run, result, want_def):
    """Remove the active mdev (recreating it on a later failure), then the definition if asked."""
    before = run.current
    if before is not None:
        with APConfigLock(run.sysroot):
            run.remove()
        run.undo.append(("recreate mdev {0} with its configuration".format(run.uuid), lambda: recreate(run, before)))
    if want_def != run.definition:
        run.set_definition(want_def)


def recreate(run, config):
    """Create the mdev again with config (undo of a removal); returns None."""
    with APConfigLock(run.sysroot):
        run.write(CREATE, run.uuid)
        run.read()
        run.apply_config(dict(EMPTY), config)


if __name__ == "__main__":
    main()
