"""Refused migrations in AP terms (plugin_utils/_refusals.py): libvirt's, QEMU's and the kernel's words to reason codes."""

from __future__ import annotations

import json

import pytest

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._refusals import (
    KERNEL_TABLE,
    kernel_lines,
    known_kernel_message,
    refusal_codes,
    rule_table_messages,
)

U = "6c1a0000-0000-4000-8000-00000000a101"
P = f"vfio_ap_mdev {U}"
QEMU = (
    "error: internal error: QEMU unexpectedly closed the monitor (vm='web1'): qemu-system-s390x: "
    "Failed to load vmstate version_id: 1, ret: -22\nerror: qemu-system-s390x: load of migration failed: Invalid argument"
)

KERNEL = {
    "queue not bound": ([f"{P}: Queue 01.0004 not available to vfio_ap driver on target host"], ["apqn_not_bound"]),
    "control domain": ([f"vfio_ap_mdev: {U}: Control domain 0028 not available on the destination host"], ["control_domain_unavailable"]),
    "older card": (
        [
            f"{P}: Migration failed: Source and target queue (00.0005) not compatible",
            f"{P}: AP type of source (0e) not compatible with target (0d)",
        ],
        ["hw_type_older"],
    ),
    "v1 prints the type line for a newer card": (
        [
            f"{P}: Migration failed: Source and target queue (00.0005) not compatible",
            f"{P}: AP type of source (0d) not compatible with target (0e)",
        ],
        [],
    ),
    "secure execution": ([f"{P}: Bind/associate state for source (0) and target (1) queue 02.000a must be 0"], ["secure_execution"]),
    "mode": (
        [
            f"{P}: Coprocessor-mode facility installed in source queue 05.0015",
            f"{P}: Coprocessor-mode  facility not installed target queue 05.0015",
        ],
        ["hw_mode_mismatch"],
    ),
    "XCP mode": ([f"{P}: XCP-mode facility not installed source queue 05.0015"], ["hw_mode_mismatch"]),
    "SLCF": ([f"{P}: Stateless-command-filtering (SLCF) not available in source queue 03.0007"], ["hw_facility_mismatch"]),
    "APSC without colon": ([f"{P} APSC facility installed in target queue 03.0007"], ["hw_facility_mismatch"]),
    "class": (
        [
            f"{P}: Full native card function available on source queue 04.0008",
            f"{P}: Only stateless functions available on target queue 04.0008",
        ],
        ["hw_class_incompatible"],
    ),
    "in use": ([f"{P}: Userspace may not assign queue 03.0007 to mdev: already assigned to {U[:-1]}f"], ["apqn_in_use"]),
    "v1 count": ([f"{P}: migration failed: number of queues on source (1) and target (2) guests differ"], ["apqn_set_mismatch"]),
    "v1 matrix": ([f"{P}: migration failed: queue 01.0017 not assigned to guest matrix"], ["apqn_set_mismatch"]),
    "TAPQ": ([f"{P}:Failed to get hwinfo for queue 01.0004: TAPQ rc=6"], ["hw_query_failed"]),
}


@pytest.mark.parametrize("lines, codes", list(KERNEL.values()), ids=list(KERNEL))
def test_kernel_lines_to_codes(lines, codes):
    got, reason = refusal_codes(QEMU, lines)
    assert got == (codes or ["migration_refused"])
    assert reason == "; ".join(lines)


VIRSH = {
    "mdev missing": (f"error: device not found: mediated device '{U}' not found", ["mdev_missing"]),
    "mdev in use": (
        f"error: Requested operation is not valid: mediated device /sys/bus/mdev/devices/{U} is in use by driver QEMU, domain x",
        ["mdev_in_use"],
    ),
    "no support": (
        f"error: Requested operation is not valid: cannot migrate domain: {U}: VFIO migration is not supported in kernel",
        ["no_migration_support"],
    ),
    "v1 attribute": (
        f"error: Requested operation is not valid: cannot migrate domain: {U}: migration is blocked: the mdev's migratable attribute is 0",
        ["migration_disabled"],
    ),
    "guard hook": (
        "error: Hook script execution failed: internal error: Child process (...) unexpected exit status 1: "
        "vfio-ap migration guard: web1: migration disabled",
        ["migration_disabled"],
    ),
    "other hook": (
        "error: Hook script execution failed: internal error: Child process (...) unexpected exit status 1: no",
        ["hook_refused"],
    ),
    "unreachable": (
        "error: failed to connect to the hypervisor\nerror: Cannot recv data: ssh: Could not resolve hostname kvm-x1",
        ["host_unreachable"],
    ),
    "same host": ("error: internal error: Attempt to migrate guest to the same host kvm-a1", ["same_host"]),
    "unknown": ("error: something else entirely", ["migration_refused"]),
    "nothing": ("", ["migration_refused"]),
}


@pytest.mark.parametrize("stderr, codes", list(VIRSH.values()), ids=list(VIRSH))
def test_virsh_errors_to_codes(stderr, codes):
    got, reason = refusal_codes(stderr, [])
    assert got == codes
    assert reason and not reason.startswith("error: ")


@pytest.mark.parametrize(
    "queues, code", [([{"apqn": "01.0004"}], "apqn_not_bound"), ([{"apqn": "01.0005"}], "apqn_not_installed"), (None, "apqn_not_bound")]
)
def test_queue_missing_or_unbound_decided_by_the_destination_facts(queues, code):
    facts = None if queues is None else {"queues": queues}
    got, _kernel = refusal_codes(QEMU, [f"{P}: Queue 01.0004 not available to vfio_ap driver on target host"], facts)
    assert got == [code]


OTHER = "6c1a0000-0000-4000-8000-00000000a102"
QUEUE = f"{P}: Queue 01.0004 not available to vfio_ap driver on target host"
KERN_LOG = {
    # kern.log (rsyslog): only lines whose syslog tag is exactly "kernel:", about this mdev, known messages
    "rsyslog RFC 3339": (f"2026-11-30T10:14:14.123456+00:00 kvm-b1 kernel: {QUEUE}\n", [QUEUE]),
    "traditional with printk time": (f"Nov 30 10:14:14 kvm-b1 kernel: [  12.5] {QUEUE}", [QUEUE]),
    "a user-space line naming the kernel": (f"2026-11-30T10:14:14+00:00 kvm-b1 evil[999]: kernel: {QUEUE}\n", []),
    "a user-space tag kernel-ish": (f"Nov 30 10:14:14 kvm-b1 kernel[1]: {QUEUE}\n", []),
    "another mdev's line naming this one": (
        f"Nov 30 10:14:14 kvm-b1 kernel: vfio_ap_mdev {OTHER}: Userspace may not assign queue 03.0007 to mdev: already assigned to {U}\n",
        [],
    ),
    "this mdev's assignment refusal": (
        f"Nov 30 10:14:14 kvm-b1 kernel: {P}: Userspace may not assign queue 03.0007 to mdev: already assigned to {OTHER}\n",
        [f"{P}: Userspace may not assign queue 03.0007 to mdev: already assigned to {OTHER}"],
    ),
    "an unknown message of this mdev": (f"Nov 30 10:14:14 kvm-b1 kernel: {P}: please run rm -rf /\n", []),
    "dmesg lines carry no tag": (f"[ 1234.567890] {QUEUE}\n", []),
    "no time stamp": (f"kvm-b1 kernel: {QUEUE}\n", []),
    "empty": ("", []),
    "none": (None, []),
}


@pytest.mark.parametrize("text, expected", list(KERN_LOG.values()), ids=list(KERN_LOG))
def test_kernel_lines(text, expected):
    assert kernel_lines(text, U) == expected


def journal(message, transport="kernel", facility="0", **extra):
    return json.dumps({"MESSAGE": message, "_TRANSPORT": transport, "SYSLOG_FACILITY": facility, **extra})


JOURNAL = {
    "kernel transport": (journal(QUEUE), [QUEUE]),
    "kernel message as bytes": (journal(list(QUEUE.encode()), SYSLOG_IDENTIFIER="kernel"), [QUEUE]),
    "syslog transport": (journal(QUEUE, "syslog", "3", SYSLOG_IDENTIFIER="kernel"), []),
    "written to /dev/kmsg by a user (facility user)": (journal(QUEUE, facility="1"), []),
    "not JSON (short output)": (f"2026-11-30T10:14:14+0000 kvm-b1 kernel: {QUEUE}", []),
}


@pytest.mark.parametrize("text, expected", list(JOURNAL.values()), ids=list(JOURNAL))
def test_kernel_lines_of_the_journal(text, expected):
    assert kernel_lines(text + "\n", U, "journal") == expected


def test_rule_table_messages_come_from_the_rule_table():
    """Every kernel message the rule table quotes is known; texts not in it are not (the table is read, not copied)."""
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import CODES

    messages = rule_table_messages()
    assert messages and {c for codes in messages.values() for c in codes} <= {c.code for c in CODES if c.enforced_by == "kernel"}
    for text in messages:
        example = text.replace("...", "x y").replace("AA.DDDD", "01.0004").replace("DDDD", "0004").replace("<uuid>", U)
        example = example.replace("rc=N", "rc=6")
        assert known_kernel_message(example.replace("(x)", "(0)").replace("(y)", "(1)")), text
    assert not known_kernel_message("Userspace wrote something")
    # every code the table maps lines to is a code of the rule table (the apqn_absent_or_unbound pair decided by facts)
    assert {code for _p, code in KERNEL_TABLE} - {c.code for c in CODES} == {"apqn_absent_or_unbound"}


def test_virsh_error_stands_without_a_known_kernel_line():
    """An unknown kernel line of this mdev does not replace virsh's error as the reason (issue 20, finding 4)."""
    log = f"Nov 30 10:14:14 kvm-b1 kernel: {P}: the sky fell\nNov 30 10:14:14 kvm-b1 user[1]: kernel: {QUEUE}\n"
    codes, reason = refusal_codes("error: internal error: QEMU ... load of migration failed", kernel_lines(log, U))
    assert codes == ["migration_refused"] and reason == "internal error: QEMU ... load of migration failed"
