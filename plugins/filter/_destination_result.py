# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter _destination_result (internal to the roles): what the destination role reports per mdev, checked again after preparation."""

from __future__ import annotations

DOCUMENTATION = r"""
name: _destination_result
short_description: "[INTERNAL] The destination role's result per mdev, with the check after the preparation"
version_added: 0.2.0
description:
  - "[INTERNAL] This filter must only be used from roles in this collection; it may change or go
    without notice."
  - For each migration_check result taken before the preparation, returns the C(destination)
    role's result entry - whether the mdev was C(ready) or C(ready_after) before, the actions, and
    the check again from the destination's facts gathered after the preparation (C(after)).
  - Without O(destination_facts), or with O(verify=false) (no verification, or check mode), C(after) is null.
positional: source_facts
options:
  _input:
    description: The migration_check results before the preparation (C(checks) of P(s390x.vfio_ap._destination_checks#filter)).
    type: list
    elements: dict
    required: true
  source_facts:
    description: The source host's C(ansible_facts.vfio_ap).
    type: dict
    required: true
  destination_facts:
    description: The destination host's C(ansible_facts.vfio_ap) gathered after the preparation.
    type: dict
  verify:
    description:
      - Whether to check again from O(destination_facts). V(false) (check mode, or verification turned off) gives
        a null C(after) whatever O(destination_facts) holds, so a role can always pass its current facts.
    type: bool
    default: true
  rules:
    description: The rule set, as in P(s390x.vfio_ap.migration_check#filter).
    type: str
    default: auto
    choices: [auto, attribute, kernel, strict]
  source:
    description: The source host's name.
    type: str
  destination:
    description: The destination host's name.
    type: str
  migration_levels:
    description:
      - "C({host: attribute|kernel}): the migration level of hosts whose facts cannot show it, as in
        P(s390x.vfio_ap.migration_check#filter)."
    type: dict
"""

EXAMPLES = r"""
- name: Record the result
  ansible.builtin.set_fact:
    result: >-
      {{ checks.checks | s390x.vfio_ap._destination_result(hostvars['kvm-a1'].ansible_facts.vfio_ap,
                                                           destination_facts=ansible_facts.vfio_ap,
                                                           source='kvm-a1', destination=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description:
    - "One C({uuid, guest, source, destination, before, actions, after}) per check: C(before) is
      C(ready) or C(ready_after), C(after) the migration_check result after the preparation (or null)."
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._destination import destination_result as _result


def _destination_result(
    checks, source_facts, destination_facts=None, rules="auto", source=None, destination=None, verify=True, migration_levels=None
):
    """Return the role's result entries (see RETURN)."""
    try:
        verify = boolean(verify, strict=True)
    except TypeError as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._destination_result: verify: {exc}") from exc
    try:
        return _result(
            checks,
            source_facts,
            destination_facts if verify else None,
            rules=rules,
            source=source,
            destination=destination,
            migration_levels=migration_levels,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"s390x.vfio_ap._destination_result: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"_destination_result": _destination_result}
