# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""The mdev module's work: read, decide, create/configure/remove, define, verify, undo on failure.

``read_host`` reads the state; ``decide`` (pure) turns it and the options into the result and the
wanted configuration and definition, refusing before any write what the kernel or ap-check would
refuse (ap-check's reading of the other definitions: ``apcheck_definition``). ``apply`` runs inside
a Transaction (_transaction.py): it reads and decides again under the lock, so the create/modify
decision sees every earlier run's result (identical concurrent runs converge: the later one
reports no change), makes the writes through the transaction's journal and verifies the result.
mdevctl, whose ap-check callout takes the AP configuration lock itself, runs with the lock
released (``txn.unlocked()``).
"""

import errno
import os
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _mdevctl_cli as mdevctl_cli
from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import host_path, read_text
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import parse_ids
from ansible_collections.s390x.vfio_ap.plugins.module_utils._libvirt_xml import parse_domain_xml
from ansible_collections.s390x.vfio_ap.plugins.module_utils._config_plan import (
    KINDS,
    PlanError,
    require_config,
    definition_conflicts,
    explain_errno,
    mdev_config,
    parse_config,
    plan_writes,
    state_from_facts,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_config import (
    DEFINITION_DIR,
    apcheck_definition,
    definition_path,
    render_definition,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import CREATE, MATRIX, SysfsWriteError, mdev_attr
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import RULES_PATH, persistent_masks

EMPTY = {"adapters": [], "domains": [], "control_domains": []}  # type: Dict[str, List[int]]
_UUID_LEN = 36


class Mdevctl:
    """mdevctl for one module run: ``run`` has AnsibleModule.run_command's shape, tmpdir holds JSON files."""

    def __init__(self, run, binary, tmpdir):
        # type: (Callable[..., Any], str, str) -> None
        self.run = run
        self.binary = binary
        self.tmpdir = tmpdir

    def definition_to(self, uuid, old, new):
        # type: (str, Optional[Dict[str, Any]], Optional[Dict[str, Any]]) -> None
        """Turn definition old into new (None = undefined); MdevctlError on failure; returns None."""
        if new is None:
            if old is not None:
                mdevctl_cli.undefine(self.run, self.binary, uuid)
            return
        if old is not None and all(old[k] == new[k] for k in KINDS):
            mdevctl_cli.set_start(self.run, self.binary, uuid, new["start"])
            return
        if old is not None:
            mdevctl_cli.undefine(self.run, self.binary, uuid)
        try:
            mdevctl_cli.define(self.run, self.binary, uuid, self.jsonfile(uuid, new))
        except mdevctl_cli.MdevctlError:
            if old is not None:
                mdevctl_cli.define(self.run, self.binary, uuid, self.jsonfile(uuid, old))
            raise

    def jsonfile(self, uuid, definition):
        # type: (str, Dict[str, Any]) -> str
        """Return the path of a temporary mdevctl JSON file holding definition."""
        path = os.path.join(self.tmpdir, "mdev-{0}.json".format(uuid))
        with open(path, "w") as handle:
            handle.write(render(definition))
        return path

    def start(self, uuid):
        # type: (str) -> None
        """Start the defined mdev; returns None."""
        mdevctl_cli.start(self.run, self.binary, uuid)


def render(definition):
    # type: (Dict[str, Any]) -> str
    """Return the mdevctl definition text of {start, adapters, domains, control_domains}."""
    return render_definition(definition["start"], definition["adapters"], definition["domains"], definition["control_domains"])


# --------------------------------------------------------------------------- reading
def read_host(sysroot, uuid):
    # type: (str, str) -> Dict[str, Any]
    """Return {facts, state, current, info, definition} of the mdev uuid on the host under sysroot.

    Raises PlanError when the vfio_ap module is not loaded.
    """
    facts, _warnings = gather_facts(sysroot, ["bus", "mdevs", "definitions", "guests"])
    if not facts["driver"]["loaded"]:
        raise PlanError("the vfio_ap module is not loaded (no {0})".format(host_path(sysroot, MATRIX)))
    state = state_from_facts(facts)
    definition = None
    for entry in facts["driver"]["definitions"]:
        if entry["uuid"] == uuid:
            definition = {k: entry[k] for k in ("start",) + KINDS}
    return {
        "facts": facts,
        "state": state,
        "current": mdev_config(state, uuid),
        "info": state["mdevs"].get(uuid) or {},
        "definition": definition,
    }


def apcheck_definitions(sysroot):
    # type: (str) -> List[Dict[str, Any]]
    """Return the mdevctl definitions under sysroot as ap-check reads them, each with its ``uuid``.

    Unreadable or unparsable files are skipped (ap-check fails on them itself; that is not this
    mdev's conflict).
    """
    directory = host_path(sysroot, DEFINITION_DIR)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        if len(name) != _UUID_LEN or name.startswith("."):
            continue
        try:
            text = read_text(os.path.join(directory, name))
            entry = apcheck_definition(text or "", name)
        except Exception:  # what ap-check cannot read is not this mdev's conflict  # pylint: disable=broad-except
            continue
        entry["uuid"] = name
        found.append(entry)
    return found


def running_guest(sysroot, uuid):
    # type: (str, str) -> Optional[str]
    """Return the running libvirt guest whose status XML (run/libvirt/qemu) names the mdev, or None."""
    directory = host_path(sysroot, "run/libvirt/qemu")
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    for name in names:
        if not name.endswith(".xml"):
            continue
        try:
            doc = parse_domain_xml(read_text(os.path.join(directory, name)) or "", name)
        except Exception:  # an unreadable status file names no guest  # pylint: disable=broad-except
            continue
        if doc["running"] and uuid in doc["mdevs"]:
            return doc["name"]
    return None


# --------------------------------------------------------------------------- deciding
def validate_ids(state, options):
    # type: (Dict[str, Any], Dict[str, Any]) -> None
    """Raise PlanError when an ID option is not IDs or above this host's maximum (checked in every state)."""
    limits = {"adapters": state["max_adapter_id"], "domains": state["max_domain_id"], "control_domains": state["max_domain_id"]}
    for kind in KINDS:
        over = [i for i in ids_option(options.get(kind), kind) if i > limits[kind]]
        if over:
            raise PlanError(
                "{0}: ID {1} is above this host's maximum {2} ID {3} (ap_max_{2}_id)".format(
                    kind, over[0], "adapter" if kind == "adapters" else "domain", limits[kind]
                ),
                errno.ENODEV,
            )


def in_use_refusal(host, sysroot, uuid, force, doing):
    # type: (Dict[str, Any], str, str, bool, str) -> None
    """Raise PlanError unless force when a guest uses the mdev (queues in use, or a running guest names it)."""
    if force:
        return
    info = host["info"]
    guest = running_guest(sysroot, uuid) if not info.get("in_use") else info.get("guest")
    if info.get("in_use") or guest:
        raise PlanError(
            "mdev {0} is in use by a running guest{1}; {2} would change the guest's crypto "
            "resources while it runs; set force: true to do it anyway".format(uuid, " ({0})".format(guest) if guest else "", doing)
        )


def decide(host, options, sysroot, uuid, mdevctl_used, rules_text, definitions):
    # type: (Dict[str, Any], Dict[str, Any], str, str, bool, Optional[str], List[Dict[str, Any]]) -> Dict[str, Any]
    """Return {"result", "desired", "want_def"} for the options on this host; PlanError for a refusal.

    rules_text is 41-ap.rules (None when absent), definitions the ap-check view of the definitions
    (apcheck_definitions). Writes nothing.
    """
    before = host["current"]
    state = host["state"]
    result = dict(
        changed=False,
        uuid=uuid,
        created=False,
        removed=False,
        before=before,
        after=before,
        method=None,
        writes=[],
        persisted_with=None,
        definition={"before": host["definition"], "after": host["definition"]},
    )  # type: Dict[str, Any]
    desired = None
    if options["state"] == "absent":
        validate_ids(state, options)
        want_def = None if options["persistent"] else host["definition"]
        remove = before is not None
        if remove:
            in_use_refusal(host, sysroot, uuid, options["force"], "removing it")
        def_change = want_def != host["definition"]
        result.update(changed=remove or def_change, removed=remove, after=None)
        result["definition"]["after"] = want_def
        if remove:
            result["writes"] = [{"file": host_path(sysroot, mdev_attr(uuid, "remove")), "value": "1"}]
    else:
        desired = parse_config(state, options["adapters"], options["domains"], options["control_domains"], before)
        writes = plan_writes(before or EMPTY, desired, state["ap_config"])
        if before is None or writes:
            try:
                require_config(state, uuid, desired)
            except PlanError as exc:
                raise PlanError("mdev {0}: {1}".format(uuid, exc), exc.errno, exc.conflicts) from None
        if before is not None and writes:
            in_use_refusal(host, sysroot, uuid, options["force"], "reconfiguring it")
        want_def = dict(start=options["start"], **desired) if options["persistent"] else host["definition"]
        def_change = want_def != host["definition"]
        if def_change and want_def is not None and want_def["start"] == "auto":
            try:
                masks = persistent_masks(rules_text, state["apmask"], state["aqmask"])
            except ValueError as exc:
                raise PlanError("cannot read the persistent AP masks: {0}".format(exc)) from None
            refused = definition_conflicts(definitions, uuid, desired, masks["apmask"], masks["aqmask"])
            if refused:
                raise PlanError("mdev {0}: {1}".format(uuid, "; ".join(c["message"] for c in refused)), None, refused)
        result.update(changed=bool(before is None or writes or def_change), created=before is None, after=desired)
        result["definition"]["after"] = want_def
        result["method"] = ("ap_config" if state["ap_config"] else "assign") if writes else None
        result["writes"] = [{"file": host_path(sysroot, mdev_attr(uuid, a)), "value": v} for a, v in writes]
        if before is None:
            result["writes"].insert(0, {"file": host_path(sysroot, CREATE), "value": uuid})
    if want_def != host["definition"]:
        result["persisted_with"] = "mdevctl" if mdevctl_used else "file"
    return {"result": result, "desired": desired, "want_def": want_def}


def preview(sysroot, uuid, options, mdevctl_used):
    # type: (str, str, Dict[str, Any], bool) -> Dict[str, Any]
    """Return decide()'s answer (plus "host") from a read without the lock (check mode); writes nothing."""
    host = read_host(sysroot, uuid)
    rules_text = read_text(host_path(sysroot, RULES_PATH), "the persistent AP mask rule")
    answer = decide(host, options, sysroot, uuid, mdevctl_used, rules_text, apcheck_definitions(sysroot))
    answer["host"] = host
    return answer


# --------------------------------------------------------------------------- writing
class _Run:
    """The writes of one apply() inside a transaction."""

    def __init__(self, txn, uuid, mdevctl):
        # type: (Any, str, Optional[Mdevctl]) -> None
        self.txn = txn
        self.sysroot = txn.sysroot
        self.uuid = uuid
        self.mdevctl = mdevctl
        self.config_writes = []  # type: List[Dict[str, str]]

    def write(self, rel, value, config=None):
        # type: (str, str, Optional[Dict[str, List[int]]]) -> None
        """Write one attribute directly (no journal); SysfsWriteError explained in AP terms for config."""
        try:
            self.txn.io.write_attr(self.sysroot, rel, value)
        except SysfsWriteError as exc:
            if config is not None and exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.ENODEV):
                exc.detail = explain_errno(read_host(self.sysroot, self.uuid)["state"], self.uuid, config, exc.errno)
            raise

    def config_to(self, current, desired, ap_config, journal):
        # type: (Dict[str, List[int]], Dict[str, List[int]], bool, bool) -> None
        """Write the configuration change current -> desired; journal its undo after the first write."""
        for attr, value in plan_writes(current, desired, ap_config):
            rel = mdev_attr(self.uuid, attr)
            self.write(rel, value, desired)
            self.txn.written.append("write {0!r} to /{1}".format(value, rel))
            self.config_writes.append({"file": host_path(self.sysroot, rel), "value": value})
            if journal and len(self.config_writes) == 1:
                self.txn.journal.append(
                    ("restore the configuration of mdev {0}".format(self.uuid), lambda before=dict(current): self.restore(before))
                )

    def restore(self, before):
        # type: (Dict[str, List[int]]) -> None
        """Write the mdev's configuration back to before (from a fresh read); returns None."""
        host = read_host(self.sysroot, self.uuid)
        if host["current"] is None:
            raise RuntimeError("mdev {0} no longer exists".format(self.uuid))
        for attr, value in plan_writes(host["current"], before, host["state"]["ap_config"]):
            self.write(mdev_attr(self.uuid, attr), value)

    def create(self):
        # type: () -> None
        """Create the mdev, journalling its removal; returns None."""
        self.txn.step(
            "create mdev {0}".format(self.uuid),
            lambda: self.write(CREATE, self.uuid),
            self.remove,
            "remove the mdev {0} created by this run".format(self.uuid),
        )

    def remove(self):
        # type: () -> None
        """Remove the mdev through its ``remove`` attribute; returns None."""
        self.write(mdev_attr(self.uuid, "remove"), "1")

    def recreate(self, config):
        # type: (Dict[str, List[int]]) -> None
        """Create the mdev again with config (undo of a removal); returns None."""
        self.write(CREATE, self.uuid)
        self.config_to(dict(EMPTY), config, read_host(self.sysroot, self.uuid)["state"]["ap_config"], False)

    def definition(self, old, new):
        # type: (Optional[Dict[str, Any]], Optional[Dict[str, Any]]) -> None
        """Make definition new from old (mdevctl without the lock, else the file), journalling the way back."""
        rel = definition_path(self.uuid)
        if self.mdevctl is not None:
            mdevctl = self.mdevctl

            def to(a, b):
                # type: (Any, Any) -> None
                with self.txn.unlocked():  # mdevctl's ap-check callout takes the lock itself
                    mdevctl.definition_to(self.uuid, a, b)

            self.txn.step(
                "change the definition of mdev {0} with mdevctl".format(self.uuid),
                lambda: to(old, new),
                lambda: to(new, old),
                "restore the definition of mdev {0}".format(self.uuid),
            )
        elif new is None:
            self.txn.remove_file(rel)
        else:
            self.txn.write_file(rel, render(new))


def apply(txn, uuid, options, mdevctl=None):
    # type: (Any, str, Dict[str, Any], Optional[Mdevctl]) -> Dict[str, Any]
    """Read, decide, write and verify under txn's lock; return the result (read back).

    Raises inside the transaction (which then undoes the writes): PlanError for a refusal,
    SysfsWriteError, HostPathError, MdevctlError, RuntimeError (verification).
    """
    sysroot = txn.sysroot
    host = read_host(sysroot, uuid)
    rules_text = txn.read_file(RULES_PATH, "the persistent AP mask rule")
    answer = decide(host, options, sysroot, uuid, mdevctl is not None, rules_text, apcheck_definitions(sysroot))
    result, desired, want_def = answer["result"], answer["desired"], answer["want_def"]
    if not result["changed"]:
        return result
    run = _Run(txn, uuid, mdevctl)
    if options["state"] == "absent":
        before = host["current"]
        if before is not None:
            txn.step(
                "remove mdev {0}".format(uuid),
                run.remove,
                lambda: run.recreate(before),
                "recreate mdev {0} with its configuration".format(uuid),
            )
        if want_def != host["definition"]:
            run.definition(host["definition"], want_def)
    else:
        # mdevctl starts only a defined mdev: define first. The file is written last, after the active
        # mdev is right, so a definition that cannot be written undoes the active change too.
        if want_def != host["definition"] and mdevctl is not None:
            run.definition(host["definition"], want_def)
        started = False
        if host["current"] is None and mdevctl is not None and options["persistent"]:

            def start():
                # type: () -> None
                with txn.unlocked():
                    mdevctl.start(uuid)

            txn.step("start mdev {0} with mdevctl".format(uuid), start, run.remove, "stop the mdev {0} started by this run".format(uuid))
            started = True
        host = read_host(sysroot, uuid)
        if host["current"] is None:
            run.create()
            host = read_host(sysroot, uuid)
        current = host["current"] if host["current"] is not None else dict(EMPTY)
        run.config_to(current, desired, host["state"]["ap_config"], True)
        if started:
            result["writes"] = run.config_writes
            result["method"] = ("ap_config" if host["state"]["ap_config"] else "assign") if run.config_writes else None
        if want_def != host["definition"] and mdevctl is None:
            run.definition(host["definition"], want_def)
    final = read_host(sysroot, uuid)
    expected = None if options["state"] == "absent" else desired
    if final["current"] != expected:
        raise RuntimeError("verification failed: mdev {0} reads back {1}, expected {2}".format(uuid, final["current"], expected))
    result["after"] = final["current"]
    result["definition"]["after"] = final["definition"]
    return result


def failure_result(sysroot, uuid, before, definition_before):
    # type: (str, str, Optional[Dict[str, List[int]]], Optional[Dict[str, Any]]) -> Dict[str, Any]
    """Return what is true after a failed (rolled back) run: created/removed/after/definition from a fresh read."""
    try:
        host = read_host(sysroot, uuid)
    except Exception:  # the host cannot be read: say nothing beyond the failure  # pylint: disable=broad-except
        return dict(uuid=uuid)
    now = host["current"]
    return dict(
        uuid=uuid,
        created=before is None and now is not None,
        removed=before is not None and now is None,
        before=before,
        after=now,
        definition={"before": definition_before, "after": host["definition"]},
    )


def ids_option(value, what):
    # type: (Any, str) -> List[int]
    """Return the IDs of an option value; PlanError naming the option and the value otherwise."""
    try:
        return parse_ids(value, what)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
