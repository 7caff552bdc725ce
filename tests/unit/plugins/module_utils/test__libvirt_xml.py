"""libvirt domain and domstatus XML: the guest name and the vfio-ap mdevs it uses."""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _libvirt_xml as lx

U1 = "6c1a0000-0000-4000-8000-00000000a101"
U2 = "6c1a0000-0000-4000-8000-00000000a102"


def hostdev(uuid, model="vfio-ap", dtype="mdev"):
    return (f"<hostdev mode='subsystem' type='{dtype}' managed='no' model='{model}'>"
            f"<source><address uuid='{uuid}'/></source></hostdev>")  # fmt: skip


def domain(name, *devices, extra=""):
    return (f"<domain type='kvm'{extra}><name>{name}</name><uuid>0f0e0d0c-0000-4000-8000-000000000001</uuid>"
            f"<devices><emulator>/usr/bin/qemu-system-s390x</emulator>{''.join(devices)}"
            "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/x.qcow2'/></disk></devices></domain>")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (domain("web1", hostdev(U1)), {"name": "web1", "running": False, "mdevs": [U1]}),
        (domain("two", hostdev(U2), hostdev(U1.upper())), {"name": "two", "running": False, "mdevs": [U1, U2]}),
        # a running domain's status file wraps the live definition
        ("<domstatus state='running' reason='booted' pid='4242'><taint flag='high-privileges'/>"
         + domain("db1", hostdev(U2), extra=" id='3'") + "</domstatus>",
         {"name": "db1", "running": True, "mdevs": [U2]}),
        # other mdev models (vfio-ccw, vfio-pci) and PCI hostdevs are not vfio-ap
        (domain("other", hostdev(U1, model="vfio-ccw"), hostdev(U2, dtype="pci")), {"name": "other", "running": False, "mdevs": []}),
        (domain("plain"), {"name": "plain", "running": False, "mdevs": []}),
        # a malformed uuid attribute is not an mdev
        (domain("bad", hostdev("not-a-uuid")), {"name": "bad", "running": False, "mdevs": []}),
        # namespaced metadata does not confuse the parser
        ("<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' type='kvm'><name>ns</name>"
         "<devices>" + hostdev(U1) + "</devices><qemu:commandline/></domain>",
         {"name": "ns", "running": False, "mdevs": [U1]}),
    ],
)  # fmt: skip
def test_parse_domain_xml(text, expected):
    assert lx.parse_domain_xml(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<domain><name>x</name>", "not well-formed XML"),
        ("", "not well-formed XML"),
        ("<network><name>default</name></network>", "no <domain> element"),
        ("<domstatus state='running'><pid/></domstatus>", "no <domain> element"),
    ],
)
def test_parse_domain_xml_rejects(text, message):
    with pytest.raises(ValueError, match=message) as info:
        lx.parse_domain_xml(text, "/etc/libvirt/qemu/x.xml")
    assert str(info.value).startswith("/etc/libvirt/qemu/x.xml")


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([{"name": "a", "running": False, "mdevs": [U1]}, {"name": "b", "running": False, "mdevs": [U2]}], {U1: "a", U2: "b"}),
        # the running guest wins over a defined one that names the same mdev
        ([{"name": "a", "running": False, "mdevs": [U1]}, {"name": "z", "running": True, "mdevs": [U1]}], {U1: "z"}),
        # two defined guests: the first by name
        ([{"name": "b", "running": False, "mdevs": [U1]}, {"name": "a", "running": False, "mdevs": [U1]}], {U1: "a"}),
        ([{"name": None, "running": True, "mdevs": [U1]}], {}),
        ([], {}),
    ],
)
def test_guests_by_mdev(documents, expected):
    assert lx.guests_by_mdev(documents) == expected
