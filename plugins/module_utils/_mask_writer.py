# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""The ap_mask module's work: read, decide, write and verify the AP bus masks and 41-ap.rules (or remove it).

``decide`` is pure (state + rules text + options -> plan and result). ``apply`` runs inside a
Transaction (_transaction.py): it reads the state and the rule file under the lock, decides, makes
the relative mask writes (each journalled with its inverse), writes the rule file (journalled with
its old text) and verifies the live masks; any failure undoes the writes already made. Check mode
calls ``preview``, which reads and decides without the lock and writes nothing.
"""

import errno
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import host_path, read_text
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import ids_to_mask, parse_ids, relative_mask_update
from ansible_collections.s390x.vfio_ap.plugins.module_utils._config_plan import (
    PlanError,
    plan_mask,
    release_conflicts,
    state_from_facts,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import BUS_AP, SysfsWriteError
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import RULES_PATH, persistent_masks, render_rules

# chzdev(argv) -> None, raising RuntimeError with its message; None when chzdev is not used.
Chzdev = Optional[Callable[[List[str]], None]]


def read_state(sysroot):
    # type: (str) -> Dict[str, Any]
    """Return the planning state of the host under sysroot; PlanError when it has no readable AP bus."""
    facts, warnings = gather_facts(sysroot, ["bus", "queues", "mdevs", "guests"])
    if not facts["bus"]["present"] or facts["bus"]["apmask"] is None:
        why = [w for w in warnings if "bus/ap" in w]
        raise PlanError(
            "no AP bus under {0}{1}".format(
                host_path(sysroot, BUS_AP),
                ": " + why[0] if why else " (is this an s390x host with the ap module loaded?)",
            )
        )
    return state_from_facts(facts)


def inverse(value):
    # type: (str) -> str
    """Return the relative mask write that undoes value (``-3,+5`` -> ``+3,-5``)."""
    return ",".join(("+" if t[0] == "-" else "-") + t[1:] for t in value.split(","))


def persistent_change(state, text, want_a, want_d, reserve):
    # type: (Dict[str, Any], Optional[str], List[int], List[int], bool) -> Tuple[Dict[str, List[int]], Dict[str, List[int]], Optional[str], Optional[str]]
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


def decide(state, rules_text, options, sysroot, chzdev_used):
    # type: (Dict[str, Any], Optional[str], Dict[str, Any], str, bool) -> Dict[str, Any]
    """Return {"result", "writes", "rules", "chzdev", "remove", "diffs", "plan"} for the options on this state.

    ``writes`` are (mask name, relative value); ``rules`` is (old text, new text) for the file or
    None; ``chzdev`` the relative (apmask, aqmask) writes for chzdev or None; ``remove`` whether
    the persistent mask rule is to be removed (``remove_rule``). Raises PlanError (with conflicts)
    for what the kernel would refuse and for ``persistent`` with ``remove_rule``. Writes nothing.
    """
    remove_rule = bool(options.get("remove_rule"))
    if remove_rule and options["persistent"]:
        raise PlanError(
            "persistent=true changes the persistent masks kept in {0}, remove_rule=true removes that rule: set one of them".format(
                host_path(sysroot, RULES_PATH)
            )
        )
    reserve = options["state"] == "reserved"
    plan = plan_mask(state, options["adapters"], options["domains"], reserve)
    if not reserve:
        refused = release_conflicts(state, plan["new_apmask"], plan["new_aqmask"])
        if refused:
            raise PlanError("; ".join(c["message"] for c in refused), errno.EBUSY, refused)
    writes = [(name, plan[name]) for name in ("apmask", "aqmask") if plan[name]]
    changed_ids = {"adapters": plan["adapters"], "domains": plan["domains"]}
    none = {"adapters": [], "domains": []}  # type: Dict[str, List[int]]
    result = dict(
        changed=bool(writes),
        before=plan["before"],
        after=plan["after"],
        reserved=changed_ids if reserve else none,
        released=changed_ids if not reserve else none,
        moved_queues=plan["moved_queues"],
        writes=[{"file": host_path(sysroot, BUS_AP + "/" + n), "value": v} for n, v in writes],
        persisted_with=None,
    )  # type: Dict[str, Any]
    diffs = [{"before": plan["before"], "after": plan["after"]}]
    rules = None
    chzdev = None
    if options["persistent"]:
        want_a = parse_ids(options["adapters"], "adapters")
        want_d = parse_ids(options["domains"], "domains")
        rules_path = host_path(sysroot, RULES_PATH)
        try:
            p_before, p_after, p_ap_w, p_aq_w = persistent_change(state, rules_text, want_a, want_d, reserve)
        except ValueError as exc:
            raise PlanError("cannot read the persistent AP masks: {0}".format(exc)) from None
        result["persistent"] = {
            "before": {"apmask": ids_to_mask(p_before["apmask"]), "aqmask": ids_to_mask(p_before["aqmask"])},
            "after": {"apmask": ids_to_mask(p_after["apmask"]), "aqmask": ids_to_mask(p_after["aqmask"])},
            "file": rules_path,
            "created": rules_text is None and p_before != p_after,
            "removed": False,
        }
        if p_before != p_after:
            new_text = render_rules(p_after["apmask"], p_after["aqmask"])
            result["changed"] = True
            result["persisted_with"] = "chzdev" if chzdev_used else "file"
            if chzdev_used:
                chzdev = (p_ap_w, p_aq_w)
            else:
                rules = (rules_text, new_text)
            diffs.append(
                {
                    "before_header": rules_path,
                    "after_header": rules_path,
                    "before": rules_text or "",
                    "after": new_text
                    if not chzdev_used
                    else "(chzdev --type ap rewrites this file with the persistent masks {0}, {1})\n".format(
                        result["persistent"]["after"]["apmask"], result["persistent"]["after"]["aqmask"]
                    ),
                }
            )
    remove = False
    if remove_rule:
        remove = rule_removal(state, rules_text, host_path(sysroot, RULES_PATH), chzdev_used, result, diffs)
    return {"result": result, "writes": writes, "rules": rules, "chzdev": chzdev, "remove": remove, "diffs": diffs, "plan": plan}


def rule_removal(state, rules_text, rules_path, chzdev_used, result, diffs):
    # type: (Dict[str, Any], Optional[str], str, bool, Dict[str, Any], List[Dict[str, Any]]) -> bool
    """Fill result's ``persistent`` and the diff for removing the persistent mask rule; return whether there is one to remove.

    ``before`` are the masks the rule sets (the live mask for one it does not set, as ap-check reads
    them), None when there is no rule or it cannot be read (a rule that cannot be read is removed
    all the same); ``after`` is None: without the rule the next boot starts from the kernel's masks.
    """
    before = None
    if rules_text is not None:
        try:
            masks = persistent_masks(rules_text, state["apmask"], state["aqmask"])
            before = {"apmask": ids_to_mask(masks["apmask"]), "aqmask": ids_to_mask(masks["aqmask"])}
        except ValueError:
            before = None
    result["persistent"] = {"before": before, "after": None, "file": rules_path, "created": False, "removed": rules_text is not None}
    if rules_text is None:
        return False
    result["changed"] = True
    result["persisted_with"] = "chzdev" if chzdev_used else "file"
    diffs.append(
        {
            "before_header": rules_path,
            "after_header": rules_path + " (removed)",
            "before": rules_text,
            "after": "" if not chzdev_used else "(chzdev --type ap --persistent --remove apmask --remove aqmask removes this file)\n",
        }
    )
    return True


def preview(sysroot, options, chzdev_used):
    # type: (str, Dict[str, Any], bool) -> Dict[str, Any]
    """Return decide()'s answer from a read without the lock (check mode); writes nothing."""
    state = read_state(sysroot)
    rules_text = read_text(host_path(sysroot, RULES_PATH), "the persistent AP mask rule")
    return decide(state, rules_text, options, sysroot, chzdev_used)


def chzdev_argv(binary, sysroot, ap_write, aq_write):
    # type: (str, str, Optional[str], Optional[str]) -> List[str]
    """Return the chzdev command that applies relative persistent mask writes."""
    argv = [binary, "--type", "ap", "--persistent", "--yes"]
    if sysroot != "/":
        argv += ["--base", sysroot]
    return argv + ["{0}={1}".format(n, v) for n, v in (("apmask", ap_write), ("aqmask", aq_write)) if v]


def chzdev_remove_argv(binary, sysroot):
    # type: (str, str) -> List[str]
    """Return the chzdev command that drops both persistent mask settings (chzdev then removes the rule file)."""
    argv = [binary, "--type", "ap", "--persistent", "--yes"]
    if sysroot != "/":
        argv += ["--base", sysroot]
    return argv + ["--remove", "apmask", "--remove", "aqmask"]


def apply(txn, options, chzdev_binary=None, chzdev=None):
    # type: (Any, Dict[str, Any], Optional[str], Chzdev) -> Dict[str, Any]
    """Read, decide, write and verify under txn's lock; return decide()'s answer with the result read back.

    Raises (inside the transaction, which then undoes the writes) PlanError, SysfsWriteError,
    HostPathError or RuntimeError (chzdev, verification).
    """
    sysroot = txn.sysroot
    state = read_state(sysroot)
    rules_text = txn.read_file(RULES_PATH, "the persistent AP mask rule")
    answer = decide(state, rules_text, options, sysroot, chzdev is not None)
    plan = answer["plan"]
    for name, value in answer["writes"]:
        try:
            txn.write_attr(BUS_AP + "/" + name, value, undo_value=inverse(value))
        except SysfsWriteError as exc:
            if exc.errno == errno.EBUSY:  # name the mdev from a fresh read
                refused = release_conflicts(read_state(sysroot), plan["new_apmask"], plan["new_aqmask"])
                if refused:
                    exc.detail = "; ".join(c["message"] for c in refused)
            raise
    if answer["writes"]:
        fresh = read_state(sysroot)
        verify_masks(fresh, plan)
        answer["result"]["after"] = {"apmask": ids_to_mask(fresh["apmask"]), "aqmask": ids_to_mask(fresh["aqmask"])}
    if answer["rules"] is not None:
        txn.write_file(RULES_PATH, answer["rules"][1])
    if answer["chzdev"] is not None and chzdev is not None:
        ap_w, aq_w = answer["chzdev"]
        argv = chzdev_argv(chzdev_binary or "chzdev", sysroot, ap_w, aq_w)
        undo_argv = chzdev_argv(chzdev_binary or "chzdev", sysroot, inverse(ap_w) if ap_w else None, inverse(aq_w) if aq_w else None)

        def run_chzdev():
            # type: () -> None
            with txn.unlocked():  # chzdev takes the AP configuration lock itself
                chzdev(argv)

        def undo_chzdev():
            # type: () -> None
            with txn.unlocked():
                chzdev(undo_argv)

        txn.step("run " + " ".join(argv), run_chzdev, undo_chzdev, "run " + " ".join(undo_argv))
    if answer["remove"]:
        remove_rule_file(txn, rules_text, chzdev_binary, chzdev)
    return answer


def remove_rule_file(txn, old_text, chzdev_binary=None, chzdev=None):
    # type: (Any, str, Optional[str], Chzdev) -> None
    """Remove the persistent mask rule in txn (journalled: a rollback writes old_text back); returns None.

    Through ``chzdev --remove`` when chzdev is used; whatever rule file it leaves is removed too.
    """
    if chzdev is not None:
        argv = chzdev_remove_argv(chzdev_binary or "chzdev", txn.sysroot)

        def run_chzdev():
            # type: () -> None
            with txn.unlocked():  # chzdev takes the AP configuration lock itself
                chzdev(argv)

        def put_back():
            # type: () -> None
            txn.io.replace_file(txn.sysroot, RULES_PATH, old_text)

        txn.step("run " + " ".join(argv), run_chzdev, put_back, "write /{0} back".format(RULES_PATH))
    txn.remove_file(RULES_PATH)


def verify_masks(fresh, plan):
    # type: (Dict[str, Any], Dict[str, Any]) -> None
    """Raise RuntimeError when the live masks read back do not have the bits this run changed; returns None."""
    for name, ids in (("apmask", plan["adapters"]), ("aqmask", plan["domains"])):
        want = set(plan["new_" + name])
        wrong = [i for i in ids if (i in fresh[name]) != (i in want)]
        if wrong:
            raise RuntimeError(
                "verification failed: {0} bit {1} is not as written (read back {2})".format(name, wrong[0], ids_to_mask(fresh[name]))
            )
