# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _path_problems (internal to the roles): the messages for path inputs that are not normalized paths."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _path_problems
short_description: "[INTERNAL] The messages for a role's path inputs that could lead a write out of vfio_ap_sysroot"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Returns one message per path input that is not a non-empty, normalized path (no empty, C(.) or C(..) parts);
    the inputs named in O(absolute) must also start with C(/).
options:
  _input:
    description: "C({input name: path})."
    type: dict
    required: true
  absolute:
    description: The inputs that are absolute paths (the sysroot); the others are paths below the sysroot.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Check the path inputs
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: >-
      {{ {'vfio_ap_sysroot': vfio_ap_sysroot, 'vfio_ap_migratable_hook_path': vfio_ap_migratable_hook_path}
         | s390x.vfio_ap._path_problems(absolute=['vfio_ap_sysroot']) }}
"""

RETURN = r"""
_value:
  description: The messages, one per path input that is not normalized; empty when all are.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._role_paths import path_problems


def _path_problems(paths, absolute=()):
    """Return the messages (see RETURN)."""
    try:
        return path_problems(dict(paths) if hasattr(paths, "items") else paths, absolute)
    except ValueError as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._path_problems: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_path_problems": _path_problems}
