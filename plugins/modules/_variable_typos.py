#!/usr/bin/python
# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: _variable_typos
short_description: "[INTERNAL] Warn about variables that look like a role's own but are not declared"
version_added: 0.2.0
description:
  - "[INTERNAL] The collection's roles run it as their first task; it must only be used from roles in this collection
    and may change without notice."
  - Warns about every variable named like the role's own (C(vfio_ap_<role>_*)) that no entry point of the role's
    C(meta/argument_specs.yml) declares, naming the nearest declared one, for example
    C(vfio_ap_audit_report_directory is not a variable of s390x.vfio_ap.audit; did you mean vfio_ap_audit_report_dir?).
    Ansible would otherwise ignore such a typo silently.
  - Run with C(run_once), it checks in one run the variables of every host of the play's batch (their host and
    group variables beside the play's and the extra ones), so that a role that checks many hosts runs it once.
  - Runs on the controller (an action plugin); changes nothing.
author:
  - s390x.vfio_ap developers (@s390x-ansible)
options:
  also:
    description:
      - Further names of the role that are not inputs (its results, the wrapping playbook's variables), without the
        role's prefix - V(summary) stands for C(vfio_ap_audit_summary) in the C(audit) role.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Runs in check mode as in normal mode (it only reads variables).
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
  platform:
    description: Any controller.
    support: full
    platforms: all
"""

EXAMPLES = r"""
- name: Warn about typos in this role's variables
  s390x.vfio_ap._variable_typos:
    also: [plan, summary]
"""

RETURN = r"""
unknown:
  description: The variables named like the role's own that it does not declare, sorted.
  returned: always
  type: list
  elements: str
  sample: [vfio_ap_audit_report_directory]
"""
