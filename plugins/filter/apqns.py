# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter apqns: the APQNs (adapter x domain) of an AP matrix."""

from __future__ import annotations

DOCUMENTATION = r"""
name: apqns
short_description: The APQNs (C(AA.DDDD)) of adapters x domains
version_added: 0.1.0
description:
  - Expands adapters (APIDs) and usage domains (APQIs) into the APQNs of their cross product, as the
    kernel names queue devices (2 + 4 lowercase hex digits), adapters outer, both ascending.
  - IDs are accepted as ints, decimal or C(0x) hex strings, inclusive ranges (C("0x04-0x07")),
    comma-separated lists of those, or lists.
positional: domains
options:
  _input:
    description: The adapter IDs.
    type: raw
    required: true
  domains:
    description: The usage-domain IDs.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: The queues an mdev would get
  ansible.builtin.debug:
    msg: "{{ [5, 6] | s390x.vfio_ap.apqns('0x04-0x05') }}"
  # -> ['05.0004', '05.0005', '06.0004', '06.0005']
"""

RETURN = r"""
_value:
  description: The APQNs, sorted.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import expand_apqns, format_apqn, parse_ids


def apqns(adapters, domains):
    """Return the APQN texts of adapters x domains."""
    try:
        pairs = expand_apqns(parse_ids(adapters, "adapters"), parse_ids(domains, "domains"))
    except ValueError as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap.apqns: {exc}") from exc
    return [format_apqn(a, d) for a, d in pairs]


class FilterModule:
    def filters(self):
        return {"apqns": apqns}
