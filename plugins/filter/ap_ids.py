# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ap_ids: a 256-bit AP mask text to its IDs."""

from __future__ import annotations

DOCUMENTATION = r"""
name: ap_ids
short_description: The IDs set in a 256-bit AP mask
version_added: 0.1.0
description:
  - Reads a mask as the kernel prints it (C(0x) + up to 64 hex digits, most significant bit first,
    the leftmost bit being ID 0; fewer digits are padded on the right, as the kernel reads an
    absolute mask) and returns the IDs whose bits are set.
  - The inverse of P(s390x.vfio_ap.ap_mask#filter).
options:
  _input:
    description: The mask text, for example the content of C(/sys/bus/ap/apmask).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Domains the host drivers own
  ansible.builtin.debug:
    msg: "{{ ansible_facts.vfio_ap.bus.aqmask | s390x.vfio_ap.ap_ids }}"
"""

RETURN = r"""
_value:
  description: The IDs, ascending.
  type: list
  elements: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import mask_to_ids


def ap_ids(mask):
    """Return the IDs set in a mask text."""
    try:
        return mask_to_ids(str(mask) if isinstance(mask, str) else mask)
    except ValueError as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.ap_ids: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"ap_ids": ap_ids}
