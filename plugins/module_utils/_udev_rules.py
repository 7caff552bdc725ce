# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""The persistent AP mask rule ``/etc/udev/rules.d/41-ap.rules`` in the layout chzdev writes.

Facts (docs/kernel-interface.md, "Persistence"): chzdev ``--type ap`` keeps the persistent
apmask/aqmask in this udev rule. On the AP bus's add event (once ``bindings_complete_count`` is not
0) and on its first ``BINDINGS=complete`` change event, the rule jumps to a label that writes
``ATTR{../../bus/ap/apmask}="0x<64 hex>"`` and ``ATTR{../../bus/ap/aqmask}="0x<64 hex>"`` and
loads vfio_ap. ap-check reads every line whose first key starts with ``ATTR{`` and contains
``apmask`` or ``aqmask`` and falls back to the live sysfs mask for one the file does not set.
"""

import re
from typing import Dict, List, Optional

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import ids_to_mask, mask_to_ids

RULES_PATH = "etc/udev/rules.d/41-ap.rules"

_ENTRY_RE = re.compile(r'^\s*(ATTR\{[^}]*\})\s*(=|:=)\s*"([^"]*)"')


def parse_rules(text):
    # type: (str) -> Dict[str, Optional[List[int]]]
    """Return {"apmask": ids or None, "aqmask": ids or None} set by a 41-ap.rules text.

    As ap-check reads it: comment and empty lines are skipped; a line counts when its first entry
    is an ``ATTR{...}`` assignment whose key names apmask or aqmask; a later line wins. A mask the
    file does not set is None. ValueError for a mask value that is not ``0x`` + hex digits.
    """
    found = {"apmask": None, "aqmask": None}  # type: Dict[str, Optional[List[int]]]
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENTRY_RE.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(3)
        for name in ("apmask", "aqmask"):
            if name in key:
                try:
                    found[name] = mask_to_ids(value)
                except ValueError:
                    raise ValueError("{0} line {1}: {2} value {3!r} is not a mask".format(RULES_PATH, number, name, value)) from None
                break
    return found


def render_rules(apmask, aqmask):
    # type: (List[int], List[int]) -> str
    """Return the 41-ap.rules text that sets both persistent masks (IDs whose bits are set) and loads vfio_ap."""
    return "".join(
        [
            "# Persistent AP bus masks, in the layout chzdev --type ap writes and ap-check reads.\n",
            "# Written by s390x.vfio_ap (ap_mask persistent: true); chzdev may rewrite this file.\n",
            'ACTION=="add", SUBSYSTEM=="ap", DEVPATH=="/bus/ap", ATTR{bindings_complete_count}!="0", GOTO="cfg_ap"\n',
            'ACTION=="change", SUBSYSTEM=="ap", DEVPATH=="/devices/ap", ENV{BINDINGS}=="complete", '
            'ENV{COMPLETECOUNT}=="1", GOTO="cfg_ap"\n',
            'GOTO="end_ap"\n',
            "\n",
            'LABEL="cfg_ap"\n',
            'ATTR{../../bus/ap/apmask}="%s"\n' % ids_to_mask(apmask),
            'ATTR{../../bus/ap/aqmask}="%s"\n' % ids_to_mask(aqmask),
            'RUN{builtin}+="kmod load vfio_ap"\n',
            "\n",
            'LABEL="end_ap"\n',
        ]
    )


def persistent_masks(text, live_apmask, live_aqmask):
    # type: (Optional[str], List[int], List[int]) -> Dict[str, List[int]]
    """Return the persistent {"apmask", "aqmask"} IDs: the file's values, the live mask where it sets none.

    text is None when the file does not exist (then both are the live masks, as for ap-check).
    """
    parsed = parse_rules(text) if text is not None else {"apmask": None, "aqmask": None}
    return {
        "apmask": sorted(parsed["apmask"] if parsed["apmask"] is not None else live_apmask),
        "aqmask": sorted(parsed["aqmask"] if parsed["aqmask"] is not None else live_aqmask),
    }
