# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _unknown_hosts (internal to the roles): the message for a role input naming hosts that are not there."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _unknown_hosts
short_description: "[INTERNAL] The message for a role input naming hosts that are not there"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - Returns the empty string when every name is one of the known hosts, else one message naming the
    variable, each wrong name with the nearest known one, and the known hosts.
options:
  _input:
    description: The role input (a host name or a list of them).
    type: raw
    required: true
  variable:
    description: The name of the role variable, for the message.
    type: str
    required: true
  known:
    description: The hosts the names must be among.
    type: list
    elements: str
    required: true
  where:
    description: What C(known) are the hosts of, for the message.
    type: str
    default: this play
"""

EXAMPLES = r"""
- name: Check the hosts to maintain
  ansible.builtin.assert:
    that: __message == ''
    fail_msg: "{{ __message }}"
  vars:
    __message: "{{ ['kvm-p9'] | s390x.vfio_ap._unknown_hosts('vfio_ap_maintenance_hosts', ansible_play_hosts_all) }}"
"""

RETURN = r"""
_value:
  description: The message, or the empty string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._input_errors import unknown_hosts


def _unknown_hosts(names, variable, known, where="this play"):
    """Return the message (see RETURN)."""
    if not isinstance(known, list):
        raise AnsibleFilterError(f"s390x.vfio_ap._unknown_hosts: known: expected a list of host names, got {type(known).__name__}")
    return unknown_hosts(str(variable), names, known, str(where))


class FilterModule:
    def filters(self):
        return {"_unknown_hosts": _unknown_hosts}
