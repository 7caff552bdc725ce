# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The readiness reason codes: the one place each code is declared.

Every code says whether it blocks a destination or only warns, which rule sets check it, whether
the ``destination`` role removes it, who stops the migration when it is ignored (the kernel, libvirt
or QEMU, the collection's hook, or nobody), its meaning and remedy. The rule engine
(``_readiness.py``) reads ``scope`` and ``fixable`` from here, the docs page
``docs/reason-codes.md`` is rendered from here (by ``tools/gen_reason_codes.py``), and a test keeps both in step.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCKER = "blocker"
WARNING = "warning"
# Which rule sets check a code: both, only the attribute rules (series v1/v2 validation), only the
# kernel rules (series v3+ restore), or the source side alone (the same for every destination).
SCOPES = ("both", "attribute", "kernel", "source")
# Who stops a migration that ignores the code.
ENFORCERS = ("kernel", "libvirt", "hook", "nobody")


@dataclass(frozen=True)
class ReasonCode:
    """One reason code and everything the engine, the reports and the docs know about it."""

    code: str
    kind: str
    scope: str
    fixable: bool
    enforced_by: str
    meaning: str
    message: str
    remedy: str


CODES: tuple[ReasonCode, ...] = (
    ReasonCode(
        "same_host",
        BLOCKER,
        "both",
        False,
        "nobody",
        "The destination is the source host: the same name, or another inventory name of the same LPAR "
        "(same CPC and LPAR number in `/proc/sysinfo`, else the same `/etc/machine-id`).",
        "–",
        "Pick another destination; give each LPAR one inventory name.",
    ),
    ReasonCode(
        "no_migration_support",
        BLOCKER,
        "both",
        False,
        "libvirt",
        "A host's vfio_ap driver has no `migratable` feature token (a kernel without the live-migration "
        "series), or vfio_ap is not loaded. The detail says `source:` or `destination:`.",
        "QEMU refuses to start the migration: the vfio-ap device registers a migration blocker when the "
        "kernel offers no migration support.",
        "Upgrade the host kernel to one with the series, `modprobe vfio_ap`; until then guests with crypto "
        "passthrough cannot live-migrate to or from it.",
    ),
    ReasonCode(
        "source_facts_incomplete",
        BLOCKER,
        "source",
        False,
        "nobody",
        "The source host is not fully audited: a read its verdicts depend on failed (the facts' `unread` "
        "records; e.g. the root-only `/run/libvirt/qemu` when `ap_facts` did not run as root), it has no AP "
        "bus under its sysroot, its facts lack a subset, or they do not say what could not be read (gathered "
        "by 0.1.0). The detail names each read and its fix. Nothing about its guests can be claimed.",
        "–",
        "The detail's fix: usually gather the facts with `become: true`; check `vfio_ap_sysroot`; gather "
        "with `gather_subset: all` and this version of the collection.",
    ),
    ReasonCode(
        "destination_facts_incomplete",
        BLOCKER,
        "both",
        False,
        "nobody",
        "The destination host is not fully audited (as `source_facts_incomplete`, for the destination): "
        "it is offered to no guest, since what could not be read (a guest using the same-UUID mdev, an "
        "auto-start definition claiming the APQNs) could refuse or break the migration.",
        "–",
        "The detail's fix on the destination, then check again.",
    ),
    ReasonCode(
        "migration_disabled",
        BLOCKER,
        "source",
        False,
        "hook",
        "The source mdev's `migratable` attribute is 0 (series v1, the kernel refuses), or a migration "
        "guard entry disables it (series v2+, `etc/vfio_ap/migration-guard.json`, written by the "
        "`migratable` module and enforced by the collection's libvirt hook).",
        "v1: the device refuses the migration; v2+: the collection's libvirt hook refuses it.",
        "Finish the master-key change or maintenance that set it, then `s390x.vfio_ap.migratable` with "
        "`state: enabled` (role `migratable`).",
    ),
    ReasonCode(
        "mdev_missing",
        BLOCKER,
        "both",
        True,
        "libvirt",
        "No mdev with the source mdev's UUID exists on the destination. QEMU on the destination is "
        "started with `-device vfio-ap,sysfsdev=/sys/bus/mdev/devices/<uuid>`.",
        "libvirt: `device not found: mediated device '<uuid>' not found`.",
        "Action `mdev` creates it (role `destination`). With the kernel rules it may stay empty: the "
        "migration restores the source's configuration into it.",
    ),
    ReasonCode(
        "mdev_in_use",
        BLOCKER,
        "both",
        False,
        "libvirt",
        "The destination's mdev with that UUID is already attached to a running guest.",
        "QEMU: the vfio device cannot be opened (device busy).",
        "Stop or move the guest using it, or remove the stale twin; two guests cannot share one mdev.",
    ),
    ReasonCode(
        "apqn_not_installed",
        BLOCKER,
        "both",
        False,
        "kernel",
        "A queue (APQN) of the source guest does not exist on the destination: the adapter is not in the "
        "LPAR's configuration or the domain is not in its usage-domain mask.",
        "`vfio_ap_mdev <uuid>: Queue AA.DDDD not available to vfio_ap driver on target host`; the load fails with `-19` (ENODEV).",
        "Configure the adapter/domain to the destination LPAR (HMC activation profile, `chzcrypt -e` / card "
        "`config`), or choose a destination that mirrors the source's domains.",
    ),
    ReasonCode(
        "apqn_not_bound",
        BLOCKER,
        "both",
        True,
        "kernel",
        "The queue exists but is bound to a host driver (`cex4queue`): its adapter bit is in `apmask` "
        "**and** its domain bit is in `aqmask` (or `driver_override` keeps it away from vfio_ap).",
        "The same `Queue AA.DDDD not available to vfio_ap driver on target host` (ENODEV).",
        "Action `ap_mask` reserves the domains for vfio_ap (clears their `aqmask` bits, persistently); check "
        "that no host workload uses those queues first.",
    ),
    ReasonCode(
        "apqn_in_use",
        BLOCKER,
        "both",
        False,
        "kernel",
        "The queue is assigned to another mdev on the destination: an active one, or an mdevctl "
        "definition with `start: auto` (which will claim it at the next boot; only orchestration sees that one).",
        "Restore step: `EADDRINUSE` (the queue is already assigned to another mdev); for an auto-start "
        "definition, the other mdev fails to start at the next boot instead.",
        "Unassign the queue from the other mdev (or change its definition), or choose another destination. "
        "Never fixed automatically: the other mdev belongs to another guest.",
    ),
    ReasonCode(
        "apqn_set_mismatch",
        BLOCKER,
        "attribute",
        True,
        "kernel",
        "Attribute/strict rules (series v1/v2 validate, they do not restore): the destination mdev does "
        "not hold exactly the source guest's APQNs. The detail lists what it lacks and what it also holds.",
        "v1/v2 destination validation fails: the APQN count or set differs from the source's.",
        "Action `mdev` assigns the source guest's adapters, domains and control domains to the destination mdev.",
    ),
    ReasonCode(
        "control_domain_unavailable",
        BLOCKER,
        "kernel",
        False,
        "kernel",
        "Kernel/strict rules: a control domain of the source mdev is not in the destination host's "
        "control-domain mask (`ap_control_domain_mask`, the LPAR's QCI ADM).",
        "`vfio_ap_mdev: <uuid>: Control domain DDDD not available on the destination host` (ENODEV).",
        "Add the control domain to the destination LPAR's activation profile, or drop it from the source "
        "mdev (`unassign_control_domain`) if the guest does not administer that domain.",
    ),
    ReasonCode(
        "queue_unusable",
        BLOCKER,
        "both",
        False,
        "nobody",
        "The destination queue is not configured, check-stopped, or its card is offline or deconfigured.",
        "None at migration time: the kernel accepts a TAPQ answer of deconfigured or check-stopped and "
        "restores the guest onto the queue; the guest's crypto requests to it fail afterwards.",
        "Bring the card online (`chzcrypt -e`), reconfigure it, or have the hardware serviced; choose another destination meanwhile.",
    ),
    ReasonCode(
        "hw_query_failed",
        BLOCKER,
        "both",
        False,
        "kernel",
        "A guest queue's hardware word cannot be had: its `ap_functions` read failed (TAPQ answered with a response "
        "code above 5), or it reads without a mode bit (TAPQ gave no hardware information: response code 1, queue not "
        "available), or the facts lack the queue or its card's AP type. The detail says `source:` or `destination:`. "
        "The kernel queries every queue of the guest with TAPQ when it saves the guest's configuration on a series "
        "v3+ source and again when it validates it on a series v3+ destination; series v1/v2 compare the word each "
        "queue cached from its card, and the collection then needs that word. Never judged from another word.",
        "`vfio_ap_mdev <uuid>: Failed to get hwinfo for queue AA.DDDD: TAPQ rc=1` (ENODEV) or "
        "`vfio_ap_mdev <uuid>:Failed to get hwinfo for queue AA.DDDD: TAPQ rc=N` (EIO), on the source (the saved "
        "state cannot be read) or on the destination (the load fails).",
        "Find out why the queue does not answer (`lszcrypt -V`, the card's and queue's `config`/`chkstop`, the "
        "kernel log); a queue that answers TAPQ normally again (or reset in progress, deconfigured, check-stopped, "
        "busy) can be checked again. Choose another destination meanwhile.",
    ),
    ReasonCode(
        "hw_mode_mismatch",
        BLOCKER,
        "both",
        False,
        "kernel",
        "The queues' mode bits differ: CCA coprocessor (D), accelerator (A) and XCP/EP11 coprocessor (X) are compared "
        "one by one, as the kernel does. The detail names each bit that differs.",
        "`Migration failed: Source and target queue (AA.DDDD) not compatible` and a line per mode bit, e.g. "
        "`vfio_ap_mdev <uuid>: XCP-mode facility installed target queue AA.DDDD` (EINVAL).",
        "Configure the destination card to the source's mode (a card mode change is an HMC/SE action and "
        "zeroizes it), or choose another destination.",
    ),
    ReasonCode(
        "hw_facility_mismatch",
        BLOCKER,
        "both",
        False,
        "kernel",
        "One of the facilities APSC, AP4KM (4096-bit ME), AP4KC (4096-bit CRT), APXA (extended "
        "addressing) or SLCF (stateless command filtering) is installed on one side only. The detail names each.",
        "`... not compatible` and e.g. `APSC facility installed in source queue ...` (EINVAL).",
        "Use a destination whose card has the same facilities (same model and firmware level, same SLCF setting).",
    ),
    ReasonCode(
        "hw_type_older",
        BLOCKER,
        "both",
        False,
        "kernel",
        "The destination card is of an older AP type (`raw_hwtype`) than the source's, e.g. CEX7 (13) for "
        "a CEX8 (14) guest. A newer destination is fine.",
        "`AP type of source (0e) not compatible with target (0d)` (EINVAL).",
        "Choose a destination with the same or a newer card generation.",
    ),
    ReasonCode(
        "hw_class_incompatible",
        BLOCKER,
        "both",
        False,
        "kernel",
        "The source queue offers full native card function, the destination only stateless functions. "
        "A stateless source may go to a native destination.",
        "`... not compatible` and a classification line (EINVAL).",
        "Choose a destination whose card is not restricted to stateless functions.",
    ),
    ReasonCode(
        "secure_execution",
        BLOCKER,
        "both",
        False,
        "kernel",
        "A queue's Secure Execution bind/associate state (BS) is not 0 on the source or the destination: "
        "the queue is bound to or associated with an SE guest. Series v3+ refuse both; series v1/v2 compare "
        "card-cached words, which hide the state, so there only this collection refuses it.",
        "`Bind/associate state for source (x) and target (y) queue AA.DDDD must be 0` (EINVAL).",
        "Unbind the queue from the SE guest on the destination, or choose another destination; SE guests "
        "with crypto passthrough cannot be live-migrated.",
    ),
    ReasonCode(
        "mkvp_mismatch",
        BLOCKER,
        "both",
        False,
        "nobody",
        "The current master-key verification patterns of a coprocessor queue are known on both sides and "
        "differ: the guest's secure keys would not work on the destination.",
        "None: the kernel does not check; the guest's crypto requests fail after the migration.",
        "Load the same master keys on the destination domain (key-management process, e.g. TKE), then re-check with the new patterns.",
    ),
    ReasonCode(
        "mixed_migration_levels",
        WARNING,
        "both",
        False,
        "nobody",
        "The two hosts use different interfaces of the migration series (`attribute`, series v1/v2, and "
        "`kernel`, series v3+): with `rules: auto` both rule sets were applied (`strict`).",
        "–",
        "Nothing if the check passes; plan to bring the fleet to one kernel level.",
    ),
    ReasonCode(
        "migration_level_unknown",
        WARNING,
        "both",
        False,
        "nobody",
        "A host has the migration series (`migratable` feature token) but no mdev that shows which interface: "
        "series v1 has a per-mdev `migratable` file, series v3+ none, and a host without any mdev shows neither. "
        "With `rules: auto` both rule sets are applied (`strict`), so the preparation builds an mdev that either "
        "level accepts. The detail names the host.",
        "–",
        "Set the inventory variable `vfio_ap_migration_level` (`attribute` for series v1/v2, `kernel` for v3+) for "
        "the host, or let one mdev exist there; a host running series v2 (no per-mdev file, validation only) "
        "always needs `vfio_ap_migration_level: attribute`.",
    ),
    ReasonCode(
        "duplicate_uuid",
        WARNING,
        "source",
        False,
        "nobody",
        "The guest's mdev UUID is attached to a guest on more than one source host (mdev UUIDs are "
        "host-local, so two guests can hold one). The plan lists the UUID once, from the first host by name, "
        "and names the others in `also_on`.",
        "–",
        "Give one of the mdevs a new UUID (libvirt domain XML and mdevctl definition) before migrating "
        "either guest: a destination can hold only one mdev with that UUID.",
    ),
    ReasonCode(
        "over_provisioned",
        WARNING,
        "source",
        False,
        "nobody",
        "The source mdev has APQNs assigned that are filtered out of the guest matrix (adapter not "
        "installed, queue not bound): the guest does not have them and they are not compared.",
        "–",
        "Clean up the source mdev's assignment, or install/bind the missing queues before migrating if the guest should have them.",
    ),
    ReasonCode(
        "drift",
        WARNING,
        "both",
        False,
        "nobody",
        "An mdev's active configuration differs from its mdevctl definition (`source:` or "
        "`destination:`): after a reboot it would come back differently.",
        "–",
        "Re-define the mdev from its active state (module `mdev` with `persistent: true`) or fix the active one.",
    ),
    ReasonCode(
        "not_persistent",
        WARNING,
        "both",
        False,
        "nobody",
        "The destination mdev has no mdevctl definition: it would not survive a reboot of the destination. "
        "The actions include an `mdev` step with `persistent: true`.",
        "–",
        "Run the actions (role `destination`) or define it.",
    ),
    ReasonCode(
        "mkvp_unknown",
        WARNING,
        "both",
        False,
        "nobody",
        "The master-key verification patterns of a coprocessor queue are unknown on one side (the detail "
        "says which): the kernel shows `mkvps` only for queues bound to `cex4queue`, so a running guest's "
        "queues usually have none, and the mismatch check could not be made.",
        "–",
        "Pass the patterns known from the key-management process as `mkvps={host: {apqn: {aes_cur: "
        "'0x...', ...}}}`, or make sure by process that both domains carry the same master keys.",
    ),
)

BY_CODE: dict[str, ReasonCode] = {c.code: c for c in CODES}
BLOCKER_CODES: tuple[str, ...] = tuple(c.code for c in CODES if c.kind == BLOCKER)
WARNING_CODES: tuple[str, ...] = tuple(c.code for c in CODES if c.kind == WARNING)
FIXABLE_CODES: frozenset[str] = frozenset(c.code for c in CODES if c.fixable)
ORDER: dict[str, int] = {c.code: i for i, c in enumerate(CODES)}
