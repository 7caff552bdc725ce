# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""libvirt domain XML: which guest uses which vfio-ap mdev.

Reads a persistent definition (``/etc/libvirt/qemu/<name>.xml``, root ``<domain>``) or a
running domain's status file (``/run/libvirt/qemu/<name>.xml``, root ``<domstatus>`` wrapping
the live ``<domain>``). A vfio-ap mdev is a
``<hostdev mode='subsystem' type='mdev' model='vfio-ap'>`` whose ``<source><address uuid=.../>``
names the mdev.
"""

import re
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional

# Its own copy of _ids.UUID_RE: the libvirt hook loads this file alone (roles/migratable).
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _local(tag):
    # type: (str) -> str
    return tag.rsplit("}", 1)[-1]


def parse_domain_xml(text, what="domain XML"):
    # type: (str, str) -> Dict[str, Any]
    """Return {name, running, mdevs} of a libvirt domain or domstatus XML text.

    name is the domain name (None if the XML has none), running is True for a ``<domstatus>``
    document (libvirt writes those only for running domains), mdevs the sorted, lowercased
    UUIDs of its vfio-ap mdev hostdevs. Raises ValueError naming what for XML that does not
    parse or holds no ``<domain>``.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError("{0}: not well-formed XML: {1}".format(what, exc)) from None
    running = _local(root.tag) == "domstatus"
    domain = root  # type: Optional[Any]
    if running:
        domain = None
        for child in root:
            if _local(child.tag) == "domain":
                domain = child
                break
    if domain is None or _local(domain.tag) != "domain":
        raise ValueError("{0}: no <domain> element".format(what))
    name = None
    mdevs = set()
    for child in domain:
        tag = _local(child.tag)
        if tag == "name" and child.text and child.text.strip():
            name = child.text.strip()
        elif tag == "devices":
            mdevs.update(_vfio_ap_uuids(child))
    return {"name": name, "running": running, "mdevs": sorted(mdevs)}


def _vfio_ap_uuids(devices):
    # type: (Any) -> List[str]
    found = []  # type: List[str]
    for hostdev in devices:
        if _local(hostdev.tag) != "hostdev":
            continue
        if hostdev.get("type") != "mdev" or hostdev.get("model") != "vfio-ap":
            continue
        for source in hostdev:
            if _local(source.tag) != "source":
                continue
            for address in source:
                if _local(address.tag) != "address":
                    continue
                uuid = (address.get("uuid") or "").strip().lower()
                if UUID_RE.match(uuid):
                    found.append(uuid)
    return found


def guests_by_mdev(documents):
    # type: (List[Dict[str, Any]]) -> Dict[str, str]
    """Return {mdev uuid: guest name} from parsed domain documents; a running guest wins over a defined one.

    Among several defined (not running) guests naming the same mdev, the first by name wins.
    """
    chosen = {}  # type: Dict[str, Any]
    for doc in sorted(documents, key=lambda d: (not d.get("running"), d.get("name") or "")):
        if not doc.get("name"):
            continue
        for uuid in doc.get("mdevs") or []:
            chosen.setdefault(uuid, doc["name"])
    return chosen
