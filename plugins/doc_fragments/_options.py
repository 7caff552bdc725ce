# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice.
"""Shared option descriptions: ``sysroot`` for every module, the AP ID options of the writers.

Use in a module's DOCUMENTATION::

    extends_documentation_fragment:
      - s390x.vfio_ap._options            # sysroot
      - s390x.vfio_ap._options.assign_ids # adapters, domains, control_domains of an mdev
      - s390x.vfio_ap._options.mask_ids   # adapters, domains of apmask/aqmask

The accepted forms of an AP ID are stated on ``adapters``; the other ID options refer to them.
"""


class ModuleDocFragment:
    # sysroot: every module.
    DOCUMENTATION = r"""
options:
  sysroot:
    description:
      - The directory treated as the filesystem root when reading or writing C(/sys), C(/etc), C(/run) and
        C(/proc). Use it for a captured system tree (a support dump), a chroot, or the collection's AP host
        simulator.
      - Must be C(/) or an existing directory holding C(sys/); anything else is refused before anything is read or
        written. No file is written outside it, not even through a symbolic link inside it.
    type: path
    default: /
"""

    # The ID options of an mdev's assignment (module mdev).
    ASSIGN_IDS = r"""
options:
  adapters:
    description:
      - Adapter IDs (APIDs) to assign. An int, a decimal or C(0x) hex string, an inclusive range
        (C("0x04-0x07")), a comma-separated string of those, or a list of them; no negative IDs, no
        null list items, at most the host's maximum ID (C(ap_max_adapter_id) or C(ap_max_domain_id)). IDs are written to sysfs in decimal.
      - V([]) assigns none; omitted keeps the current adapters (none for a new mdev).
    type: raw
  domains:
    description:
      - Usage-domain IDs (APQIs) to assign, in the same forms as O(adapters).
      - V([]) assigns none; omitted keeps the current ones.
    type: raw
  control_domains:
    description:
      - Control-domain IDs to assign, in the same forms as O(adapters). Omitted keeps the current ones.
      - Control domains without any usage domain are refused (ap-check refuses such a definition).
    type: raw
"""

    # The ID options of the AP masks (module ap_mask).
    MASK_IDS = r"""
options:
  adapters:
    description:
      - Adapter IDs (APIDs) whose apmask bit to change. An int, a decimal or C(0x) hex string, an inclusive
        range (C("0x04-0x07")), a comma-separated string of those, or a list of them; no negative IDs, no
        null list items, at most the host's maximum ID (C(ap_max_adapter_id) or C(ap_max_domain_id)). IDs are written to sysfs in decimal.
      - Omitted or empty means no adapter changes.
    type: raw
  domains:
    description:
      - Usage-domain IDs (APQIs) whose aqmask bit to change, in the same forms as O(adapters).
      - Omitted or empty means no domain changes.
    type: raw
"""
