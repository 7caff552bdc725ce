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
    answer C(EBUSY)).
  - The whole read-decide-write-verify runs under C(/run/lock/s390apconfig.lock) (as ap-check and chzdev take it),
    so concurrent runs see each other's result. When any write fails, the writes already made (live masks, rule
    file) are undone and the result says what was restored.
  - With O(persistent=true) the same change is made to the persistent masks, through C(chzdev --type ap) when it is
    installed, else by writing C(/etc/udev/rules.d/41-ap.rules) in the layout chzdev writes and ap-check reads.
  - With O(remove_rule=true) the persistent mask rule is removed instead, so that the next boot starts from the
    kernel's masks; this is how the C(destination) role's C(undo) takes back a rule its preparation created.
author:
  - s390x.vfio_ap developers (@s390x-ansible)
extends_documentation_fragment:
  - s390x.vfio_ap._attributes
  - s390x.vfio_ap._attributes.platform
  - s390x.vfio_ap._options
  - s390x.vfio_ap._options.mask_ids
  - s390x.vfio_ap._attributes.idempotent
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written, not even the lock file; the result shows what would change.
  diff_mode:
    support: full
    details:
      - Before and after masks; with O(persistent=true) and no chzdev also the rule file's text; with
        O(remove_rule=true) the text of the rule that goes.
options:
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
  remove_rule:
    description:
      - Remove the persistent mask rule C(/etc/udev/rules.d/41-ap.rules), through
        C(chzdev --type ap --persistent --remove apmask --remove aqmask) when chzdev is installed (chzdev then
        removes the file), else by removing the file. Without the rule the next boot starts from the kernel's
        masks (all adapters and domains with the host drivers, unless the kernel command line sets
        C(ap.apmask=) or C(ap.aqmask=)), and ap-check validates auto-start definitions against the live masks.
      - The live change of O(adapters)/O(domains) is made as usual in the same run; both may be left out to
        only remove the rule. A run with no rule to remove changes nothing.
      - Cannot be combined with O(persistent=true), which keeps the persistent masks in that rule.
    type: bool
    default: false
    version_added: 0.2.0
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

- name: Give domain 3 back now and boot with the kernel's masks again (drop the persistent rule)
  s390x.vfio_ap.ap_mask:
    domains: 3
    state: released
    remove_rule: true
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
  description:
    - The persistent masks C(before) and C(after) (kernel text), the rule C(file), whether this run C(created) the
      rule (there was none before), and whether it C(removed) it.
    - With O(remove_rule=true), C(before) are the masks the rule set (null when there was no rule, or one that cannot
      be read) and C(after) is null (the next boot starts from the kernel's masks).
  returned: when persistent or remove_rule
  type: dict
  sample: {before: {apmask: "0xff...ff", aqmask: "0xff...ff"}, after: {apmask: "0xff...ff", aqmask: "0xef...ff"},
           file: /etc/udev/rules.d/41-ap.rules, created: true, removed: false}
persisted_with:
  description: V(chzdev), V(file), or null when the persistent masks already matched, there was no rule to remove,
    or neither O(persistent) nor O(remove_rule) was set.
  returned: always
  type: str
restored:
  description: On a failure after writes were made, what was done to undo them (newest first); C(changed) is
    false when everything was undone.
  returned: failure
  type: list
  elements: str
conflicts:
  description: On a refused release, the mdevs holding the APQNs, each C({errno, apqn, mdev, message}).
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _mask_writer as writer
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError, module_sysroot
from ansible_collections.s390x.vfio_ap.plugins.module_utils._config_plan import PlanError
from ansible_collections.s390x.vfio_ap.plugins.module_utils._transaction import Transaction, TransactionError


def main():
    """Run the module: in check mode preview; else read, decide, write and verify in one locked transaction."""
    module = AnsibleModule(
        argument_spec=dict(
            adapters=dict(type="raw"),
            domains=dict(type="raw"),
            state=dict(type="str", choices=["reserved", "released"], default="reserved"),
            persistent=dict(type="bool", default=False),
            remove_rule=dict(type="bool", default=False),
            sysroot=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C", "LANGUAGE": "C"}
    sysroot = module_sysroot(module)
    options = dict(module.params, sysroot=sysroot)
    binary = module.get_bin_path("chzdev") if options["persistent"] or options["remove_rule"] else None

    def chzdev(argv):
        rc, out, err = module.run_command(argv)
        if rc != 0:
            raise RuntimeError("{0} failed with exit code {1}: {2}".format(" ".join(argv), rc, (err or out).strip()))

    try:
        if module.check_mode:
            answer = writer.preview(sysroot, options, binary is not None)
        else:
            answer = Transaction(sysroot).run(lambda txn: writer.apply(txn, options, binary, chzdev if binary else None))
    except (PlanError, HostPathError) as exc:
        module.fail_json(msg=str(exc), conflicts=getattr(exc, "conflicts", []), changed=False)
    except TransactionError as exc:
        cause = exc.cause
        module.fail_json(
            msg=str(exc),
            changed=not exc.clean,
            restored=exc.restored,
            conflicts=getattr(cause, "conflicts", []),
            error=cause.as_dict() if hasattr(cause, "as_dict") else None,
        )
    result = answer["result"]
    if module._diff:
        result["diff"] = answer["diffs"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
