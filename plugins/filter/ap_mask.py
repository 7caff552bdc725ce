# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ap_mask: IDs to the kernel's 256-bit AP mask text."""

from __future__ import annotations

DOCUMENTATION = r"""
name: ap_mask
short_description: IDs to a 256-bit AP mask as the kernel prints it
version_added: 0.1.0
description:
  - Returns C(0x) followed by 64 lowercase hex digits with the bits of the IDs set, most
    significant bit first (the leftmost bit is ID 0), the format of C(/sys/bus/ap/apmask),
    C(aqmask) and C(ap_control_domain_mask).
  - The inverse is P(s390x.vfio_ap.ap_ids#filter).
options:
  _input:
    description:
      - The IDs (0-255) as ints, decimal or C(0x) hex strings, inclusive ranges, comma-separated
        lists of those, or lists.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Mask of adapters 0 and 5
  ansible.builtin.debug:
    msg: "{{ [0, 5] | s390x.vfio_ap.ap_mask }}"
  # -> 0x8400000000000000000000000000000000000000000000000000000000000000
"""

RETURN = r"""
_value:
  description: The mask text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import ids_to_mask, parse_ids


def ap_mask(ids):
    """Return the kernel mask text with the IDs' bits set."""
    try:
        return ids_to_mask(parse_ids(ids, "ids"))
    except ValueError as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.ap_mask: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"ap_mask": ap_mask}
