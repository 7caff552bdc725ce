# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice.
"""Shared descriptions of the module attributes, so that every module only states its support.

Use in a module's DOCUMENTATION::

    extends_documentation_fragment:
      - s390x.vfio_ap._attributes
      - s390x.vfio_ap._attributes.platform
    attributes:
      check_mode:
        support: full
      diff_mode:
        support: full
      platform:
        support: full      # platforms comes from the fragment

A facts module uses ``s390x.vfio_ap._attributes.facts_module`` instead of stating check_mode,
diff_mode and facts support itself.
"""


class ModuleDocFragment:
    # check_mode and diff_mode: every module of the collection has both attributes.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      - The module can run with C(--check); it then reports whether it would change anything and writes nothing.
  diff_mode:
    description:
      - With C(--diff) the module returns the state before and after the change (or the change it would make in
        check mode).
"""

    # The hosts the modules run on.
    PLATFORM = r"""
options: {}
attributes:
  platform:
    description:
      - The target systems the module can manage.
    support: full
    platforms: posix
    details:
      - Linux KVM hosts on IBM Z or LinuxONE (s390x) with the AP bus; any POSIX system when O(sysroot) points
        at a captured or simulated tree.
"""

    # The facts attribute, for modules that return ansible_facts.
    FACTS = r"""
options: {}
attributes:
  facts:
    description:
      - The module returns facts under C(ansible_facts) that later tasks and the fact cache can use.
"""

    # A read-only facts module: full check mode, no diff, facts returned.
    FACTS_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, so check mode behaves like a normal run.
  diff_mode:
    support: N/A
    details:
      - The module changes nothing.
  facts:
    support: full
"""

    # Writers that converge: a second run with the same options changes nothing.
    IDEMPOTENT = r"""
options: {}
attributes:
  idempotent:
    description:
      - A second run with the same options on an unchanged host reports no change and writes nothing; runs of
        the same task at once on one host converge (the later one sees the earlier one's result).
    support: full
"""
