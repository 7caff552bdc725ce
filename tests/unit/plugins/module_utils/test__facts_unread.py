"""What the facts could not read is data (docs/facts.md, "What could not be read"), and warnings print safely.

Every read a verdict depends on that fails is one ``unread`` record ``{what, path, errno, error}``;
``complete`` is false then. The failures are injected at the system call (``os.scandir``, ``os.stat``,
the reader's ``raw``), because the unit tests run as root, which permission bits do not stop; the
real unprivileged run is tests/system/test_unaudited.py.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from apsim.fleet import build_fleet
from apsim.render import render_fleet

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _facts, _unread
from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, render_guard

U1 = "6c1a0000-0000-4000-8000-000000000001"
U2 = "6c1a0000-0000-4000-8000-000000000002"
FLEET = {
    "hosts": {
        "kvm": {
            "migration": "kernel",
            "aqmask": "0-3,8-255",
            "cpc": {"type": "3931", "model": "A01", "sequence": "2A633E", "name": "CPCA"},
            "lpar": {"name": "KVMA1", "number": 1},
            "cards": [{"id": 5, "type": "CEX8C", "domains": "2-5"}],
            "mdevs": [
                {"uuid": U1, "adapters": [5], "domains": [4], "control_domains": [4], "guest": "g1", "start": "auto"},
                {"uuid": U2, "adapters": [5], "domains": [5], "guest": "g2"},
            ],
        }
    }
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("unread")
    render_fleet(build_fleet(FLEET), dest)
    return dest


@pytest.fixture
def host(rendered, tmp_path) -> Path:
    target = tmp_path / "kvm"
    shutil.copytree(rendered / "kvm", target, symlinks=True)
    (target / GUARD_PATH).parent.mkdir(parents=True, exist_ok=True)
    (target / GUARD_PATH).write_text(render_guard({}))
    return target


def refuse(monkeypatch, function: str, rel: str, code: int) -> None:
    """Make ``os.<function>`` (or the reader's ``raw``) fail with ``code`` for the path ending in rel."""
    if function == "raw":
        original = _facts._Reader.raw

        def raw(self, path):
            if path.endswith(rel):
                raise OSError(code, os.strerror(code), path)
            return original(self, path)

        monkeypatch.setattr(_facts._Reader, "raw", raw)
        return
    original = getattr(os, function)

    def call(path, *args, **kwargs):
        if os.fspath(path).endswith(rel):
            raise OSError(code, os.strerror(code), path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(_facts.os, function, call)


def by_uuid(facts):
    return {m["uuid"]: m for m in facts["driver"]["mdevs"]}


@pytest.mark.parametrize(
    ("function", "rel", "code", "what", "effect"),
    [
        # running guests unreadable (root-only /run/libvirt/qemu): only the defined configurations name them
        ("scandir", "run/libvirt/qemu", errno.EACCES, "libvirt_status", lambda f: by_uuid(f)[U1]["guest"] == "g1"),
        ("scandir", "etc/libvirt/qemu", errno.EACCES, "libvirt_config", lambda f: by_uuid(f)[U1]["guest"] == "g1"),
        ("raw", "run/libvirt/qemu/g1.xml", errno.EACCES, "libvirt_status", lambda f: by_uuid(f)[U2]["guest"] == "g2"),
        ("scandir", "etc/mdevctl.d/matrix", errno.EACCES, "definitions", lambda f: f["driver"]["definitions"] == []),
        ("raw", GUARD_PATH, errno.EACCES, "guard", lambda f: f["driver"]["migration_guard"] == {}),
        # the AP bus or the vfio_ap matrix device that cannot be looked at is not "absent" without a record
        ("stat", "sys/bus/ap", errno.EACCES, "bus", lambda f: f["bus"]["present"] is False),
        ("stat", "sys/devices/vfio_ap/matrix", errno.EACCES, "matrix", lambda f: f["driver"]["loaded"] is False),
        ("raw", f"matrix/{U1}/matrix", errno.EIO, "mdev", lambda f: by_uuid(f)[U1]["apqns"] is None),
        ("raw", "05.0004/status", errno.EIO, "queue", lambda f: by_uuid(f)[U1]["in_use"] is False),
        ("raw", "card05/config", errno.EIO, "card", lambda f: f["cards"][0]["config"] is None),
        ("raw", "proc/sysinfo", errno.EACCES, "identity", lambda f: f["host"]["cpc"] is None),
        ("raw", "05.0004/ap_functions", errno.EIO, "queue_functions", lambda f: True),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_failed_read_is_one_record(host, monkeypatch, function, rel, code, what, effect):
    refuse(monkeypatch, function, rel, code)
    facts, warnings = _facts.gather_facts(str(host))
    assert facts["complete"] is False and facts["unread_count"] == 1, facts["unread"]
    (record,) = facts["unread"]
    assert record["what"] == what
    assert record["path"] == str(host / rel) if not rel.startswith(("matrix/", "05.", "card05")) else record["path"].endswith(rel)
    assert record["errno"] == errno.errorcode[code]
    assert record["error"] and "\n" not in record["error"]
    assert len(warnings) == 1 and record["path"] in warnings[0] and errno.errorcode[code] in warnings[0]
    assert effect(facts)


@pytest.mark.parametrize(
    ("rel", "text", "what"),
    [
        ("etc/libvirt/qemu/g2.xml", "<domain><name>g2", "libvirt_config"),
        (f"etc/mdevctl.d/matrix/{U1}", '{"start": "auto", "attrs": [', "definitions"),
        (GUARD_PATH, "{oops", "guard"),
        (f"sys/devices/vfio_ap/matrix/{U2}/guest_matrix", "zz\n", "mdev"),
    ],
)
def test_a_file_that_does_not_parse_is_a_record_without_errno(host, rel, text, what):
    (host / rel).write_text(text)
    facts, _warnings = _facts.gather_facts(str(host))
    assert [(r["what"], r["path"], r["errno"]) for r in facts["unread"]] == [(what, str(host / rel), None)]
    assert facts["complete"] is False and facts["unread"][0]["error"]


def test_absent_is_not_unread(tmp_path):
    """A host without libvirt, mdevctl, guard or AP bus files has nothing unread: absent is a fact."""
    (tmp_path / "sys").mkdir()
    facts, warnings = _facts.gather_facts(str(tmp_path))
    assert (facts["complete"], facts["unread"], facts["unread_count"], warnings) == (True, [], 0, [])
    assert facts["bus"]["present"] is False


def test_subsets_not_gathered_are_not_read(host, monkeypatch):
    refuse(monkeypatch, "scandir", "run/libvirt/qemu", errno.EACCES)
    facts, _warnings = _facts.gather_facts(str(host), ["all", "!guests"])
    assert facts["complete"] is True and facts["gather_subset"] == ["bus", "cards", "definitions", "mdevs", "mkvps", "queues"]


def test_records_are_ordered_by_kind_and_bounded():
    records = [_unread.unread_entry("queue", f"/s/sys/devices/ap/card01/01.{d:04x}/status", errno.EIO, "I/O error") for d in range(300)]
    records.append(_unread.unread_entry("libvirt_status", "/s/run/libvirt/qemu", errno.EACCES, "permission denied"))
    records.append(records[0])  # the same failure twice is one record
    listed, total = _unread.order_unread(records)
    assert total == 301 and len(listed) == _unread.MAX_UNREAD
    assert listed[0]["what"] == "libvirt_status"  # host-wide kinds first: never cut off by per-queue ones


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("sys/bus/ap/apmask", "bus"),
        ("sys/devices/ap", "bus"),
        ("sys/devices/ap/card0a", "card"),
        ("sys/devices/ap/card0a/serialnr", "card"),
        ("sys/devices/ap/card0a/0a.0047/status", "queue"),
        ("sys/devices/ap/card0a/0a.0047/driver", "queue"),
        ("sys/devices/ap/card0a/0a.0047/ap_functions", "queue_functions"),
        ("sys/devices/ap/card0a/0a.0047/mkvps", "mkvps"),
        ("sys/devices/vfio_ap/matrix", "matrix"),
        ("sys/devices/vfio_ap/matrix/features", "matrix"),
        (f"sys/devices/vfio_ap/matrix/{U1}/guest_matrix", "mdev"),
        ("etc/mdevctl.d/matrix/x", "definitions"),
        ("etc/vfio_ap/migration-guard.json", "guard"),
        ("run/libvirt/qemu/web1.xml", "libvirt_status"),
        ("etc/libvirt/qemu", "libvirt_config"),
        ("etc/machine-id", "identity"),
        ("proc/sysinfo", "identity"),
        ("sys/firmware/ocf/cpc_name", "identity"),
    ],
)
def test_kind_of(rel, kind):
    assert _unread.kind_of("/srv/root", "/srv/root/" + rel) == kind
    assert kind in _unread.KINDS


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain /run/libvirt/qemu", "plain /run/libvirt/qemu"),
        ("red \x1b[31mALERT\x1b[0m", "red \\x1b[31mALERT\\x1b[0m"),
        ("title \x1b]0;owned\x07", "title \\x1b]0;owned\\x07"),
        ("two\nlines\r", "two\\x0alines\\x0d"),
        ("c1 \x9b31m", "c1 \\x9b31m"),
        ("del \x7f", "del \\x7f"),
        ("rtl \u202eevil", "rtl \\u202eevil"),
        ("lone \udcff", "lone \\udcff"),
        ("line sep \u2028", "line sep \\u2028"),
        ("umlaut Übung ✓", "umlaut Übung ✓"),
    ],
)
def test_printable(text, shown):
    assert _unread.printable(text) == shown
    assert _unread.printable(shown) == shown  # already printable: unchanged


def test_warnings_carry_no_terminal_escapes(host):
    """A hostile file name (a guest's XML) reaches the warnings only as visible escapes."""
    hostile = host / "etc/libvirt/qemu" / "evil\x1b[2J\x1b]0;pwned\x07.xml"
    hostile.write_text("<domain>")
    facts, warnings = _facts.gather_facts(str(host))
    assert len(warnings) == 1 and "\\x1b[2J" in warnings[0]
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for w in warnings for c in w)
    assert not any(ord(c) < 0x20 for r in facts["unread"] for c in r["path"] + r["error"])
