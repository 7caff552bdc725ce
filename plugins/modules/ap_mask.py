#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: ap_mask
short_description: Reserve AP adapters and domains for vfio_ap, or release them to the host drivers
version_added: 0.1.0
description:
  - Clears (O(state=reserved)) or sets (O(state=released)) bits of the AP bus masks C(/sys/bus/ap/apmask) and
    C(/sys/bus/ap/aqmask). A queue (APQN) belongs to the host's zcrypt drivers when both its adapter's apmask bit and
    its domain's aqmask bit are set; reserving either bit moves it to the vfio_ap driver, so that a vfio_ap mediated
    device can use it.
  - Writes only the change, in the kernel's relative syntax (for example C(-5,-71) or C(+8-11)), never a whole mask
    computed from an earlier read, so concurrent changes to other bits are kept.
  - Releasing an APQN that an mdev holds is refused before anything is written, naming the mdev (the kernel would
    answer C(EBUSY)). Takes C(/run/lock/s390apconfig.lock) around the change, as ap-check and chzdev do.
  - With O(persistent=true) the same change is made to the persistent masks, through C(chzdev --type ap) when it is
    installed, else by writing C(/etc/udev/rules.d/41-ap.rules) in the layout chzdev writes and ap-check reads.
author:
  - s390x.vfio_ap developers (@s390x-ansible)
extends_documentation_fragment:
  - s390x.vfio_ap._attributes
  - s390x.vfio_ap._attributes.platform
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written, not even the lock file; the result shows what would change.
  diff_mode:
    support: full
    details:
      - Before and after masks; with O(persistent=true) and no chzdev also the rule file's text.
options:
  adapters:
    description:
      - Adapter IDs (APIDs) whose apmask bit to change. An int, a decimal or C(0x) hex string, a range
        (C("0x04-0x07")), a comma-separated string of those, or a list of them.
      - Omitted or empty means no adapter changes.
    type: raw
  domains:
    description:
      - Usage-domain IDs (APQIs) whose aqmask bit to change, in the same forms as O(adapters).
    type: raw
  state:
    description:
      - V(reserved) clears the bits (the queues go to vfio_ap); V(released) sets them (the queues go back to the
        host drivers).
    type: str
    choices: [reserved, released]
    default: reserved
  persistent:
    description:
      - Also change the persistent masks that apply at boot.
    type: bool
    default: false
  sysroot:
    description:
      - Directory treated as the filesystem root for C(/sys), C(/etc) and C(/run) (a chroot, a captured tree or the
        project's simulator).
    type: path
    default: /
notes:
  - Reserving only adapters or only domains is enough to free their Cartesian product with the other mask.
  - chzdev is run with C(--base) when O(sysroot) is not C(/).
seealso:
  - module: s390x.vfio_ap.mdev
  - module: s390x.vfio_ap.ap_facts
"""

EXAMPLES = r"""
- name: Reserve domains 3 and 71 (0x47) for vfio_ap, now and after reboots
  s390x.vfio_ap.ap_mask:
    domains: [3, "0x47"]
    state: reserved
    persistent: true

- name: Reserve adapters 4 to 7 for vfio_ap on this boot only
  s390x.vfio_ap.ap_mask:
    adapters: "0x04-0x07"

- name: Give domain 12 back to the host's zcrypt drivers
  s390x.vfio_ap.ap_mask:
    domains: 12
    state: released
    persistent: true
  register: release

- name: Show the queues that moved
  ansible.builtin.debug:
    msg: "{{ release.moved_queues | map(attribute='apqn') | list }}"
"""

RETURN = r"""
before:
  description: The masks before the change (kernel text).
  returned: always
  type: dict
  sample: {apmask: "0xffff...ff", aqmask: "0xe000ffff...ff"}
after:
  description: The masks after the change (read back; in check mode, the predicted masks).
  returned: always
  type: dict
reserved:
  description: IDs whose bits were (or would be) cleared by this run.
  returned: always
  type: dict
  sample: {adapters: [], domains: [3, 71]}
released:
  description: IDs whose bits were (or would be) set by this run.
  returned: always
  type: dict
  sample: {adapters: [], domains: []}
moved_queues:
  description: Existing queue devices that moved between drivers, each C({apqn, from, to}).
  returned: always
  type: list
  elements: dict
  sample: [{apqn: "01.0003", from: cex4queue, to: vfio_ap}]
writes:
  description: The relative mask writes made (or that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{file: /sys/bus/ap/aqmask, value: "-3,-71"}]
persistent:
  description: The persistent masks before and after (kernel text), when O(persistent=true).
  returned: when persistent
  type: dict
persisted_with:
  description: V(chzdev), V(file), or null when the persistent masks already matched or O(persistent=false).
  returned: always
  type: str
"""

import errno
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.s390x.vfio_ap.plugins.module_utils._aplock import APConfigLock, LockTimeout
from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import ids_to_mask, parse_ids, relative_mask_update
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdev_plan import (
    PlanError,
    plan_mask,
    release_conflicts,
    state_from_facts,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import (
    BUS_AP,
    SysfsWriteError,
    read_file,
    sys_path,
    write_attr,
    write_file_atomic,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import (
    RULES_PATH,
    persistent_masks,
    render_rules,
)


def read_state(module, sysroot):
    """Return the planning state of the host under sysroot, failing when it has no AP bus."""
    facts, _warnings = gather_facts(sysroot, ["bus", "queues", "mdevs", "guests"])
    if not facts["bus"]["present"] or facts["bus"]["apmask"] is None:
        module.fail_json(msg="no AP bus under {0} (is this an s390x host with the ap module?)".format(sys_path(sysroot, BUS_AP)))
    return state_from_facts(facts)


def persistent_change(state, text, want_a, want_d, reserve):
    """Return (before masks, after masks, relative apmask write, relative aqmask write) for the persistent masks."""
    masks = persistent_masks(text, state["apmask"], state["aqmask"])
    ap, aq = set(masks["apmask"]), set(masks["aqmask"])
    if reserve:
        ap_w, aq_w = relative_mask_update([], sorted(ap & set(want_a))), relative_mask_update([], sorted(aq & set(want_d)))
        new_ap, new_aq = ap - set(want_a), aq - set(want_d)
    else:
        ap_w, aq_w = relative_mask_update(sorted(set(want_a) - ap), []), relative_mask_update(sorted(set(want_d) - aq), [])
        new_ap, new_aq = ap | set(want_a), aq | set(want_d)
    return masks, {"apmask": sorted(new_ap), "aqmask": sorted(new_aq)}, ap_w, aq_w


def main():
    """Run the module: plan the mask change, refuse conflicts, then write (or only report in check mode)."""
    module = AnsibleModule(
        argument_spec=dict(
            adapters=dict(type="raw"),
            domains=dict(type="raw"),
            state=dict(type="str", choices=["reserved", "released"], default="reserved"),
            persistent=dict(type="bool", default=False),
            sysroot=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C", "LANGUAGE": "C"}
    params = module.params
    sysroot = params["sysroot"]
    reserve = params["state"] == "reserved"

    state = read_state(module, sysroot)
    try:
        plan = plan_mask(state, params["adapters"], params["domains"], reserve)
    except PlanError as exc:
        module.fail_json(msg=str(exc))
    if not reserve:
        refused = release_conflicts(state, plan["new_apmask"], plan["new_aqmask"])
        if refused:
            module.fail_json(msg="; ".join(c["message"] for c in refused), conflicts=refused, changed=False)

    writes = [(name, plan[name]) for name in ("apmask", "aqmask") if plan[name]]
    changed_ids = {"adapters": plan["adapters"], "domains": plan["domains"]}
    result = dict(
        changed=bool(writes),
        before=plan["before"],
        after=plan["after"],
        reserved=changed_ids if reserve else {"adapters": [], "domains": []},
        released=changed_ids if not reserve else {"adapters": [], "domains": []},
        moved_queues=plan["moved_queues"],
        writes=[{"file": sys_path(sysroot, BUS_AP + "/" + n), "value": v} for n, v in writes],
        persisted_with=None,
    )
    diffs = [{"before": plan["before"], "after": plan["after"]}]

    # Persistent side: decided before anything is written.
    chzdev = None
    rules_path = sys_path(sysroot, RULES_PATH)
    persist = None
    if params["persistent"]:
        want_a = parse_ids(params["adapters"], "adapters")
        want_d = parse_ids(params["domains"], "domains")
        try:
            old_text = read_file(rules_path)
            p_before, p_after, p_ap_w, p_aq_w = persistent_change(state, old_text, want_a, want_d, reserve)
        except ValueError as exc:
            module.fail_json(msg="cannot read the persistent AP masks: {0}".format(exc))
        result["persistent"] = {
            "before": {"apmask": ids_to_mask(p_before["apmask"]), "aqmask": ids_to_mask(p_before["aqmask"])},
            "after": {"apmask": ids_to_mask(p_after["apmask"]), "aqmask": ids_to_mask(p_after["aqmask"])},
            "file": rules_path,
        }
        if p_before != p_after:
            chzdev = module.get_bin_path("chzdev")
            new_text = render_rules(p_after["apmask"], p_after["aqmask"])
            persist = (p_ap_w, p_aq_w, old_text, new_text)
            result["changed"] = True
            result["persisted_with"] = "chzdev" if chzdev else "file"
            diffs.append(
                {
                    "before_header": rules_path,
                    "after_header": rules_path,
                    "before": old_text or "",
                    "after": new_text
                    if not chzdev
                    else "(chzdev --type ap rewrites this file with the persistent masks {0}, {1})\n".format(
                        result["persistent"]["after"]["apmask"], result["persistent"]["after"]["aqmask"]
                    ),
                }
            )
    if module._diff:
        result["diff"] = diffs
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    # Active masks, under the AP configuration lock; on a failure the first write is undone.
    done = []  # type: list
    if writes:
        try:
            with APConfigLock(sysroot):
                for name, value in writes:
                    try:
                        write_attr(sysroot, BUS_AP + "/" + name, value)
                    except SysfsWriteError as exc:
                        if exc.errno == errno.EBUSY:  # name the mdev from a fresh read
                            fresh = read_state(module, sysroot)
                            refused = release_conflicts(fresh, plan["new_apmask"], plan["new_aqmask"])
                            if refused:
                                exc.detail = "; ".join(c["message"] for c in refused)
                        restored, clean = undo(sysroot, done)
                        result["changed"] = not clean
                        module.fail_json(msg=str(exc) + restored, error=exc.as_dict(), **result)
                    done.append((name, value))
        except LockTimeout as exc:
            module.fail_json(msg=str(exc), changed=False)
        fresh = read_state(module, sysroot)
        result["after"] = {"apmask": ids_to_mask(fresh["apmask"]), "aqmask": ids_to_mask(fresh["aqmask"])}

    if persist:
        p_ap_w, p_aq_w, old_text, new_text = persist
        try:
            if chzdev:
                argv = [chzdev, "--type", "ap", "--persistent", "--yes"]
                if os.path.realpath(sysroot) != "/":
                    argv += ["--base", sysroot]
                argv += ["{0}={1}".format(n, v) for n, v in (("apmask", p_ap_w), ("aqmask", p_aq_w)) if v]
                rc, out, err = module.run_command(argv)
                if rc != 0:
                    raise RuntimeError("{0} failed with exit code {1}: {2}".format(" ".join(argv), rc, (err or out).strip()))
            else:
                with APConfigLock(sysroot):
                    write_file_atomic(rules_path, new_text, module.atomic_move)
        except (RuntimeError, LockTimeout, OSError) as exc:
            module.fail_json(msg="the active masks were changed, but the persistent masks were not: {0}".format(exc), **result)
    module.exit_json(**result)


def undo(sysroot, done):
    """Undo the mask writes already made (inverse relative writes); return (sentence, fully restored)."""
    if not done:
        return "; nothing was changed", True
    notes = []
    for name, value in reversed(done):
        inverse = ",".join(("+" if t[0] == "-" else "-") + t[1:] for t in value.split(","))
        try:
            write_attr(sysroot, BUS_AP + "/" + name, inverse)
            notes.append("{0} restored with {1!r}".format(name, inverse))
        except SysfsWriteError as exc:
            notes.append("{0} could not be restored ({1}); it still has {2!r} applied".format(name, exc, value))
            return "; " + ", ".join(notes) + " (not fully restored)", False
    return "; " + ", ".join(notes), True


if __name__ == "__main__":
    main()
