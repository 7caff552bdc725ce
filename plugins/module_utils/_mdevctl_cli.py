# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""Running mdevctl for vfio_ap mdevs (parent ``matrix``): list, define, modify, start, stop, undefine.

Every function takes ``run``, a callable with AnsibleModule.run_command's shape
(``run(argv, data=None) -> (rc, stdout, stderr)``), and the mdevctl binary. mdevctl runs its
callouts (s390-tools ap-check for vfio_ap), which take the AP configuration lock themselves: do not
hold it while calling these. mdevctl only manages the running system (``/sys``,
``/etc/mdevctl.d``): ``manages_sysroot`` says whether that is the sysroot being changed.

mdevctl 1.2 ``list --dumpjson`` prints ``[{"matrix": [{"<uuid>": {"mdev_type", "start", "attrs"}}]}]``.
"""

import json
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_config import PARENT, parse_definition

Run = Callable[..., Tuple[int, str, str]]


class MdevctlError(Exception):
    """mdevctl failed: the command, its exit code and what it printed."""

    def __init__(self, argv, rc, stdout, stderr):
        # type: (List[str], int, str, str) -> None
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        said = (stderr or stdout or "").strip().replace("\n", " | ")
        Exception.__init__(self, "{0} failed with exit code {1}: {2}".format(" ".join(argv), rc, said or "(no output)"))


def manages_sysroot(sysroot):
    # type: (str) -> bool
    """Return True when mdevctl, which acts on /sys and /etc/mdevctl.d, would act on this sysroot's.

    True for ``/`` and for a tree bound over the system's directories (a mount namespace).
    """
    for rel in ("sys", "etc/mdevctl.d"):
        mine = os.path.join(sysroot, rel)
        system = os.path.join("/", rel)
        try:
            if not os.path.samefile(mine, system):
                return False
        except OSError:
            return False
    return True


def _run(run, argv, data=None):
    # type: (Run, List[str], Optional[str]) -> str
    if data is None:
        rc, out, err = run(argv)
    else:
        rc, out, err = run(argv, data=data)
    if rc != 0:
        raise MdevctlError(argv, rc, out, err)
    return out


def parse_dumpjson(text):
    # type: (str) -> Dict[str, Dict[str, Any]]
    """Return {uuid: parsed definition + "parent"} from ``mdevctl list [--defined] --dumpjson`` output.

    Only vfio_ap devices (parent ``matrix``) are returned; parse_definition gives adapters,
    domains, control_domains and start. Empty output means no devices. ValueError for bad JSON.
    """
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError("mdevctl --dumpjson output is not JSON: {0}".format(exc)) from exc
    found = {}  # type: Dict[str, Dict[str, Any]]
    for parent_entry in doc if isinstance(doc, list) else []:
        if not isinstance(parent_entry, dict):
            continue
        for parent, devices in parent_entry.items():
            if parent != PARENT:
                continue
            for device in devices or []:
                for uuid, body in device.items():
                    parsed = parse_definition(json.dumps(body), "mdevctl definition {0}".format(uuid))
                    parsed["parent"] = parent
                    found[uuid] = parsed
    return found


def list_defined(run, binary):
    # type: (Run, str) -> Dict[str, Dict[str, Any]]
    """Return the defined vfio_ap mdevs by UUID (``mdevctl list --defined --dumpjson``)."""
    return parse_dumpjson(_run(run, [binary, "list", "--defined", "--dumpjson"]))


def define(run, binary, uuid, jsonfile):
    # type: (Run, str, str, str) -> None
    """Define mdev uuid (parent matrix) from a definition file (type, start and attrs); returns None."""
    _run(run, [binary, "define", "--uuid", uuid, "--parent", PARENT, "--jsonfile", jsonfile])


def set_start(run, binary, uuid, start):
    # type: (Run, str, str, str) -> None
    """Change the start mode (auto|manual) of a defined mdev (``mdevctl modify``); returns None."""
    _run(run, [binary, "modify", "--uuid", uuid, "--parent", PARENT, "--auto" if start == "auto" else "--manual"])


def undefine(run, binary, uuid):
    # type: (Run, str, str) -> None
    """Remove the definition of mdev uuid; returns None."""
    _run(run, [binary, "undefine", "--uuid", uuid, "--parent", PARENT])


def start(run, binary, uuid):
    # type: (Run, str, str) -> None
    """Start (create and configure) the defined mdev uuid; returns None."""
    _run(run, [binary, "start", "--uuid", uuid, "--parent", PARENT])


def stop(run, binary, uuid):
    # type: (Run, str, str) -> None
    """Stop (remove) the running mdev uuid; returns None."""
    _run(run, [binary, "stop", "--uuid", uuid])
