#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: ap_facts
short_description: Gather the AP crypto and vfio_ap facts of an IBM Z / LinuxONE KVM host
version_added: 0.1.0
description:
  - Reads the machine's identity (C(/etc/machine-id), C(/proc/sysinfo), C(/sys/firmware/ocf/cpc_name)), the s390 AP
    bus (C(/sys/bus/ap), C(/sys/devices/ap)), the vfio_ap matrix device and its mediated
    devices (C(/sys/devices/vfio_ap/matrix)), the mdevctl definitions (C(/etc/mdevctl.d/matrix/<uuid>)), the
    libvirt domain XML (C(/run/libvirt/qemu/*.xml), C(/etc/libvirt/qemu/*.xml)) and the collection's
    migration guard (C(/etc/vfio_ap/migration-guard.json)), and returns them as structured data in
    C(ansible_facts.vfio_ap) (schema 2).
  - This is the machine-readable form of what C(lszcrypt -V) and C(mdevctl list) print, and the input of the
    collection's migration readiness checks (P(s390x.vfio_ap.migration_check#filter)).
  - Every documented key is always present, except in the compact queue records (see C(queues)). A value that is
    unknown (not gathered, or its file could not be read) is V(null). Lists are sorted; adapter and domain IDs are
    integers; masks are the kernel's text.
  - Queues are returned in a compact form (schema 2), each with only what is its own, so that a 256 x 85 LPAR returns
    about 1.4 MB instead of 8 MB; P(s390x.vfio_ap.ap_queues#filter) gives them back with every key.
  - A host without the AP bus (not s390x, or the C(ap) module not loaded) is not an error; the facts
    then say C(bus.present=false) and hold empty lists. A host without the vfio_ap module says C(vfio_ap.driver.loaded=false).
  - A file that vanishes while it is read (a queue going away), a read the kernel or the file's permissions refuse
    (C(EIO) from a queue whose hardware query fails, C(EACCES) from the root-only libvirt directories when the
    module does not run as root), or a malformed mdevctl definition, libvirt XML or migration guard does not fail
    the task. Its value is V(null) (a queue or mdev that went away is left out), a warning names the file and
    the error, and the failure is recorded in C(unread) (what, path, errno) with C(complete=false), so that no
    consumer mistakes "could not be seen" for "is not there". The collection's readiness checks report such a host
    as not fully audited.
  - Run it as root (C(become=true)) on a real host - C(/run/libvirt/qemu) and C(/etc/libvirt/qemu) are readable by
    root only; without them no guest is known.
  - The module only reads. It takes no lock and changes nothing.
author:
  - s390x.vfio_ap developers (@s390x-ansible)
extends_documentation_fragment:
  - s390x.vfio_ap._attributes
  - s390x.vfio_ap._attributes.platform
  - s390x.vfio_ap._attributes.facts
  - s390x.vfio_ap._attributes.facts_module
  - s390x.vfio_ap._options
  - s390x.vfio_ap._attributes.idempotent
options:
  gather_subset:
    description:
      - Which parts of the facts to gather. V(all) gathers everything.
      - V(bus) the AP bus masks, limits, features and bindings (C(bus)); V(cards) the crypto cards (C(cards));
        V(queues) the queues (APQNs) with their drivers and what differs from their card (C(queues); brings
        V(cards) with it, since a queue without its own hardware word has its card's); V(mkvps) the master-key
        verification patterns of the queues the host driver holds (C(queues[].mkvps); only with V(queues)); V(mdevs) the
        active vfio_ap mediated devices (C(vfio_ap.driver.mdevs)); V(definitions) the mdevctl definitions
        (C(vfio_ap.driver.definitions), and C(defined)/C(start) of each mdev); V(guests) the libvirt guest using
        each mdev (C(vfio_ap.driver.mdevs[].guest)).
      - Prefix a name with C(!) to exclude it, for example V([all, "!queues"]). A list holding only exclusions starts
        from V(all).
      - C(host), C(bus.present) and the C(vfio_ap) scalars (C(loaded), C(features), C(migration),
        C(available_instances), C(migration_guard)) are always gathered.
      - Reading the queues is most of the work on a large host (up to 256 x 256 APQNs); leave V(queues) out when
        only mdevs are needed. Each read of a queue's C(mkvps) is a request the kernel sends to the card; on an LPAR
        whose host driver holds thousands of CCA or EP11 queues, V([all, "!mkvps"]) avoids them.
      - An unknown name fails the task with a message listing the valid names.
    type: list
    elements: str
    default: [all]
notes:
  - C(migration) is V(none) when the vfio_ap C(features) attribute lacks the C(migratable) token,
    V(attribute) when mdevs have a per-device C(migratable) file (live-migration series v1), and V(kernel) when
    the token is present without that file (series v2 and later). On a host with the token and no mdev at all the
    two cannot be told apart; the module then says V(kernel).
  - A queue's C(driver) is the target of its C(driver) link, not a guess from C(apmask)/C(aqmask), so queues
    steered by C(driver_override) (kernel 6.19 and later) are reported correctly.
  - At most 50 warnings are shown individually, followed by one line counting the rest. Warnings and C(unread)
    records show control characters, terminal escape sequences and bidirectional controls from host-reported
    names as visible escapes (C(\x1b)), never raw.
  - The kernel cuts an attribute at one page (4095 characters). When an mdev's C(matrix) fills a page, its
    assignment is read from C(ap_config) instead; when its C(guest_matrix) does, C(guest_apqns) is computed with
    the kernel's filter rule (LPAR adapters and domains only, an adapter dropped when one of its queues is not
    bound to vfio_ap) and a warning says so.
seealso:
  - name: Facts reference
    description: Every key of C(ansible_facts.vfio_ap) explained in AP terms (docs/facts.md in the collection).
    link: https://github.com/s390x-ansible/vfio_ap/blob/main/docs/facts.md
  - name: vfio-ap kernel documentation
    description: The vfio_ap driver's sysfs interface.
    link: https://docs.kernel.org/arch/s390/vfio-ap.html
"""

EXAMPLES = r"""
- name: Gather the AP facts of the KVM hosts
  s390x.vfio_ap.ap_facts:

- name: Show which queues are reserved for vfio_ap
  ansible.builtin.debug:
    msg: "{{ ansible_facts.vfio_ap.queues | selectattr('driver', 'equalto', 'vfio_ap') | map(attribute='apqn') | list }}"

- name: Gather only the mdevs and their guests (fast on large hosts)
  s390x.vfio_ap.ap_facts:
    gather_subset:
      - "!queues"
      - "!cards"

- name: Read a captured system tree (sos report or the simulator)
  s390x.vfio_ap.ap_facts:
    sysroot: /var/tmp/sosreport-kvm01
  delegate_to: localhost

- name: Fail when a running guest's mdev is not migratable
  ansible.builtin.assert:
    that: item.migratable is not false
    fail_msg: "mdev {{ item.uuid }} of guest {{ item.guest }} is blocked from migrating"
  loop: "{{ ansible_facts.vfio_ap.driver.mdevs | selectattr('in_use') | list }}"
  loop_control:
    label: "{{ item.uuid }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    vfio_ap:
      description: The AP facts of the host (schema 2). See docs/facts.md for the meaning of each key.
      returned: always
      type: dict
      contains:
        schema:
          description: Version of this layout; changes only when a key changes meaning or disappears. V(2) since
            version 0.2.0 (compact queues); V(1) before.
          type: int
          returned: always
          sample: 2
        sysroot:
          description: The O(sysroot) the facts were read from.
          type: str
          returned: always
          sample: /
        gather_subset:
          description: The subsets gathered (after applying exclusions), sorted.
          type: list
          elements: str
          returned: always
          sample: [bus, cards, definitions, guests, mdevs, mkvps, queues]
        complete:
          description:
            - V(true) when every read of the subsets gathered succeeded; V(false) when C(unread) lists a failure.
            - Absent from facts gathered by collection 0.1.0 (schema 1), which the readiness checks read as not known.
          type: bool
          returned: always
          sample: true
        unread:
          description:
            - What could not be read or parsed, at most 200 records ordered by C(what) (in the order of the list
              below) and path; C(unread_count) counts them all.
            - A verdict about the host needs the host-wide ones; C(queue_functions) (the queue's hardware query
              failed, C(functions=null)) and C(mkvps) are judged per queue by the readiness rules.
          type: list
          elements: dict
          returned: always
          sample: [{what: libvirt_status, path: /run/libvirt/qemu, errno: EACCES, error: permission denied}]
          contains:
            what:
              description:
                - C(identity) (machine-id, sysinfo, CPC name), C(bus) (C(/sys/bus/ap), the device list), C(matrix)
                  (the vfio_ap matrix device), C(mdev) (an mdev's attributes), C(definitions) (mdevctl),
                  C(guard) (the migration guard), C(libvirt_status) (running guests, C(/run/libvirt/qemu)),
                  C(libvirt_config) (defined guests, C(/etc/libvirt/qemu)), C(card), C(queue), C(queue_functions),
                  C(mkvps).
              type: str
            path:
              description: The file or directory (with the sysroot).
              type: str
            errno:
              description: The error's symbolic name (C(EACCES), C(EIO)); V(null) when the file was read but did not
                parse.
              type: str
            error:
              description: What went wrong, in words.
              type: str
        unread_count:
          description: How many reads failed (C(unread) lists at most 200).
          type: int
          returned: always
          sample: 0
        host:
          description:
            - What identifies the machine and LPAR (always gathered). Two inventory names with the same C(cpc.type),
              C(cpc.sequence_code) and C(lpar.number) reach the same LPAR.
          type: dict
          returned: always
          contains:
            machine_id:
              description: C(/etc/machine-id); V(null) when absent, empty or C(uninitialized).
              type: str
              sample: 2175726bb76c84ab61a5842e6bd8b5b3
            cpc:
              description: The machine (CPC) from C(/proc/sysinfo); V(null) when that file cannot be read.
              type: dict
              contains:
                manufacturer:
                  description: C(Manufacturer), e.g. C(IBM).
                  type: str
                type:
                  description: Machine type (C(3931) z16 A01, C(9175) z17).
                  type: str
                  sample: "3931"
                model:
                  description: Machine model, e.g. C(A01).
                  type: str
                sequence_code:
                  description: C(Sequence Code), 16 characters, unique per machine of a type.
                  type: str
                  sample: 000000000008A8B8
                name:
                  description: CPC name set on the HMC (C(/sys/firmware/ocf/cpc_name)); V(null) when not known.
                  type: str
            lpar:
              description: The LPAR (C(LPAR Name), C(LPAR Number) of C(/proc/sysinfo)); V(null) outside an LPAR or when
                unknown.
              type: dict
              contains:
                name:
                  description: LPAR name.
                  type: str
                  sample: LP47
                number:
                  description: LPAR number (decimal).
                  type: int
                  sample: 47
        bus:
          description: The AP bus (C(/sys/bus/ap)). Values are V(null) when unknown or not gathered.
          type: dict
          returned: always
          contains:
            present:
              description: Whether the AP bus exists. V(false) on hosts that are not s390x or without the C(ap) module.
              type: bool
              sample: true
            max_adapter_id:
              description: Highest adapter ID the machine supports (C(ap_max_adapter_id)).
              type: int
              sample: 255
            max_domain_id:
              description: Highest domain ID the machine supports (C(ap_max_domain_id)).
              type: int
              sample: 84
            apmask:
              description: Adapters owned by the host's crypto drivers, as the kernel prints the mask (C(0x) + 64 hex
                digits, leftmost bit = adapter 0). A cleared bit reserves the adapter for vfio_ap.
              type: str
              sample: "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            aqmask:
              description: Usage domains owned by the host's crypto drivers, same format as RV(ansible_facts.vfio_ap.bus.apmask).
              type: str
              sample: "0xf000ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            host_adapters:
              description: Adapters configured to this LPAR (QCI adapter mask, C(ap_adapter_mask)); V(null) without QCI.
              type: list
              elements: int
              sample: [0, 1, 2]
            host_usage_domains:
              description: Usage domains configured to this LPAR (C(ap_usage_domain_mask)).
              type: list
              elements: int
              sample: [0, 1, 2, 3]
            host_control_domains:
              description: Control domains configured to this LPAR (C(ap_control_domain_mask)).
              type: list
              elements: int
              sample: [0, 1, 2, 3]
            vfio_adapters:
              description: Adapter IDs (0 to C(max_adapter_id)) whose C(apmask) bit is clear, that is reserved for vfio_ap.
              type: list
              elements: int
              sample: []
            vfio_domains:
              description: Domain IDs (0 to C(max_domain_id)) whose C(aqmask) bit is clear, that is reserved for vfio_ap.
              type: list
              elements: int
              sample: [4, 5, 6]
            features:
              description: AP facilities the bus reports (C(APSC), C(APXA), C(QACT), C(RC8A), C(APSB)); empty without QCI.
              type: list
              elements: str
              sample: [APSC, APXA, QACT, RC8A]
            default_domain:
              description: The host's default usage domain (C(ap_domain)); V(null) when none is selected. CCA card serial
                numbers are read through it.
              type: int
              sample: 0
            bindings:
              description: How many queue devices are bound to a driver.
              type: dict
              sample: {bound: 96, total: 96, complete: true}
              contains:
                bound:
                  description: Queue devices bound to a driver.
                  type: int
                total:
                  description: All queue devices.
                  type: int
                complete:
                  description: Whether the bus says all queues are bound after its first scan.
                  type: bool
        cards:
          description: The crypto cards (adapters), sorted by C(id).
          type: list
          elements: dict
          returned: always
          contains:
            id:
              description: Adapter ID (APID).
              type: int
              sample: 5
            name:
              description: Device name.
              type: str
              sample: card05
            type:
              description: The zcrypt type (C(CEX8C) is a CEX8 in CCA mode, C(P) EP11, C(A) accelerator); V(null) when
                no zcrypt card driver is bound.
              type: str
              sample: CEX8C
            hwtype:
              description: The compatible AP type the drivers use (10 = CEX4 ... 14 = CEX8).
              type: int
              sample: 14
            raw_hwtype:
              description: The AP type the hardware reports; above 14 for cards newer than the kernel knows.
              type: int
              sample: 14
            mode:
              description: C(cca), C(ep11) or C(accel), from the card's ap_functions mode bits.
              type: str
              sample: cca
            functions:
              description: The card's C(ap_functions) word as the kernel prints it (C(0x) + 8 uppercase hex digits).
              type: str
              sample: "0x72800000"
            capabilities:
              description: The card's C(functions) decoded, with its C(raw_hwtype); V(null) when C(functions) is
                unknown. A queue without C(functions) of its own has these.
              type: dict
              contains:
                apsc:
                  description: AP special-command facility.
                  type: bool
                mex4k:
                  description: 4096-bit modular-exponent facility (AP4KM).
                  type: bool
                crt4k:
                  description: 4096-bit CRT facility (AP4KC).
                  type: bool
                mode:
                  description: C(cca), C(ep11) or C(accel).
                  type: str
                apxa:
                  description: AP extended addressing.
                  type: bool
                slcf:
                  description: Stateless command filtering.
                  type: bool
                native:
                  description: Classification says full native card function.
                  type: bool
                stateless:
                  description: Classification says only stateless functions.
                  type: bool
                bs:
                  description: Secure Execution bind/associate state (0 usable, 1 usable without secure keys,
                    2 available for binding, 3 unusable).
                  type: int
                hwtype:
                  description: The card's raw AP type (C(raw_hwtype)).
                  type: int
            online:
              description: Whether the zcrypt driver has the card online; V(null) when the attribute is missing.
              type: bool
            config:
              description: Whether the card is configured to the LPAR.
              type: bool
            chkstop:
              description: Whether the card is check-stopped.
              type: bool
            depth:
              description: Queue depth reported by TAPQ.
              type: int
            serialnr:
              description: Serial number (CCA and EP11 cards); V(null) when unknown or an accelerator. A CCA card reports it
                only through its queue in the default domain.
              type: str
              sample: 93AADF05
        queues:
          description:
            - The queues (APQNs, adapter x usage domain) that exist on the host, sorted by APQN, in compact form.
            - Each record has C(apqn) and C(driver), C(vfio_status) when bound to vfio_ap, and any other key only when
              its value is not the usual one. Left out means C(functions) and C(capabilities) equal the card's,
              C(config) true, C(chkstop) false, C(online) true under the host driver (V(null) otherwise),
              C(driver_override) and C(mkvps) V(null).
            - P(s390x.vfio_ap.ap_queues#filter) returns the records with every key (and C(adapter), C(domain)).
          type: list
          elements: dict
          returned: always
          sample: [{apqn: "05.0004", driver: cex4queue}, {apqn: "06.0004", driver: vfio_ap, vfio_status: in use},
                   {apqn: "06.0005", driver: vfio_ap, vfio_status: unassigned, functions: "0x72808000",
                    capabilities: {bs: 2, mode: cca}}]
          contains:
            apqn:
              description: C(AA.DDDD), two hex digits adapter and four hex digits domain.
              type: str
              sample: "05.0004"
            driver:
              description: The driver the queue is bound to (C(cex4queue) = the host's zcrypt driver, C(vfio_ap) =
                available to guests), read from its C(driver) link; V(null) when unbound.
              type: str
              sample: vfio_ap
            functions:
              description: The queue's own C(ap_functions) (a live TAPQ, so it includes the Secure Execution state),
                present only when it differs from the card's word; V(null) when the read failed (C(EIO)).
              type: str
              sample: "0x72800000"
            capabilities:
              description: C(functions) decoded (keys as in C(cards[].capabilities)); V(null) when C(functions) is
                unknown. Only when C(functions) is present.
              type: dict
            config:
              description: Whether the queue is configured; present only when not true.
              type: bool
            chkstop:
              description: Whether the queue is check-stopped; present only when not false.
              type: bool
            online:
              description: The zcrypt driver's online state, present only when a queue of the host driver is not online
                (or its state is unknown); queues bound to vfio_ap or to no driver have none.
              type: bool
            vfio_status:
              description: For queues bound to vfio_ap (and only those), C(unassigned) (in no mdev), C(assigned) (in an
                mdev, not used by a running guest) or C(in use); V(null) when the status could not be read.
              type: str
              sample: in use
            driver_override:
              description: The driver named in the queue's C(driver_override) (kernel 6.19 and later); present only when
                one is set. Not read while C(apmask) or C(aqmask) has a cleared bit (the kernel then accepts no override).
              type: str
              sample: vfio_ap
            mkvps:
              description: Master-key verification patterns of a CCA or EP11 queue bound to the zcrypt driver, by
                register and slot (C(aes_cur), C(apka_new), C(wk_cur), ...), each V(null) or C({state, mkvp});
                present only when some are known (not for accelerators or queues bound to vfio_ap).
              type: dict
              sample: {aes_cur: {state: valid, mkvp: "0x1111aaaa2222bbbb"}, aes_new: null}
        driver:
          description: The vfio_ap driver and its mediated devices (C(vfio_ap) in facts schema 1).
          type: dict
          returned: always
          contains:
            loaded:
              description: Whether the vfio_ap module is loaded (C(/sys/devices/vfio_ap/matrix) exists).
              type: bool
            features:
              description: Tokens of the matrix device's C(features) attribute (C(guest_matrix), C(hotplug) or
                C(dyn), C(ap_config), C(migratable)).
              type: list
              elements: str
              sample: [ap_config, guest_matrix, hotplug, migratable]
            migration:
              description: C(none) (no live migration support), C(attribute) (per-mdev C(migratable) file, series v1)
                or C(kernel) (series v2 and later).
              type: str
              sample: kernel
            available_instances:
              description: How many more vfio_ap mdevs can be created; V(null) when unknown.
              type: int
              sample: 65532
            migration_guard:
              description: The collection's migration guard entries by mdev UUID (C({migratable, reason, guest,
                changed})); empty when there is no guard file or it is malformed.
              type: dict
            mdevs:
              description: The active vfio_ap mediated devices, sorted by UUID.
              type: list
              elements: dict
              contains:
                uuid:
                  description: The mdev UUID.
                  type: str
                adapters:
                  description: Assigned adapters (from C(matrix)).
                  type: list
                  elements: int
                domains:
                  description: Assigned usage domains (from C(matrix)).
                  type: list
                  elements: int
                control_domains:
                  description: Assigned control domains.
                  type: list
                  elements: int
                apqns:
                  description: Assigned APQNs (adapters x domains), C(AA.DDDD), sorted.
                  type: list
                  elements: str
                guest_apqns:
                  description: The APQNs the guest gets (C(guest_matrix)) after the kernel filtered out adapters with
                    a queue that is missing or not bound to vfio_ap. Kernels before 6.0 have no C(guest_matrix) and
                    give the guest the whole assignment; there it equals C(apqns).
                  type: list
                  elements: str
                in_use:
                  description: Whether a running guest uses the mdev (one of its queues has status C(in use)).
                  type: bool
                migratable:
                  description: On C(attribute) hosts the mdev's C(migratable) file; on C(kernel) hosts V(false) when the
                    migration guard blocks the mdev, else V(true); V(null) on C(none) hosts.
                  type: bool
                defined:
                  description: Whether an mdevctl definition with the same UUID exists (V(null) when definitions were not
                    gathered).
                  type: bool
                start:
                  description: The definition's C(auto) or C(manual); V(null) without a definition.
                  type: str
                guest:
                  description: The libvirt domain using the mdev (a running one first, else a defined one); V(null) when
                    none or guests were not gathered.
                  type: str
            definitions:
              description: The mdevctl definitions of vfio_ap mdevs (C(/etc/mdevctl.d/matrix/<uuid>)), sorted by UUID.
                A definition that cannot be parsed is listed with V(null) values and a warning.
              type: list
              elements: dict
              contains:
                uuid:
                  description: The mdev UUID.
                  type: str
                start:
                  description: C(auto) (created at boot) or C(manual).
                  type: str
                adapters:
                  description: Adapters the definition assigns.
                  type: list
                  elements: int
                domains:
                  description: Usage domains the definition assigns.
                  type: list
                  elements: int
                control_domains:
                  description: Control domains the definition assigns.
                  type: list
                  elements: int
                active:
                  description: Whether an mdev with this UUID exists now.
                  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError, module_sysroot

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts, resolve_subsets
from ansible_collections.s390x.vfio_ap.plugins.module_utils._unread import printable

MAX_WARNINGS = 50


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sysroot=dict(type="path", default="/"),
            gather_subset=dict(type="list", elements="str", default=["all"]),
        ),
        supports_check_mode=True,
    )
    try:
        subsets = resolve_subsets(module.params["gather_subset"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    sysroot = module_sysroot(module)
    try:
        facts, warnings = gather_facts(sysroot, subsets)
    except HostPathError as exc:
        module.fail_json(msg=printable(str(exc)))
    for text in warnings[:MAX_WARNINGS]:
        module.warn(text)
    if len(warnings) > MAX_WARNINGS:
        module.warn("{0} more files could not be read; their values are null".format(len(warnings) - MAX_WARNINGS))
    module.exit_json(changed=False, ansible_facts={"vfio_ap": facts})


if __name__ == "__main__":
    main()
