"""The audit's controller step: the same plan, summary and reports as the filters, written only when they changed.

``audit_step`` is what the audit role's one controller task (the ``_audit_reports`` action) computes:
it must agree with ``_fleet_facts``, ``migration_plan``, ``readiness_summary`` and ``readiness_report``
as the role used them. ``write_reports`` writes the files the way the role's copy tasks did - 0644 in
a 0755 directory whatever the umask, atomically, nothing changed when nothing changed - and refuses
what it must not write through.
"""

from __future__ import annotations

import os
import stat

import pytest
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter._fleet_facts import _fleet_facts as fleet_facts
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_plan import migration_plan
from ansible_collections.s390x.vfio_ap.plugins.filter.readiness_report import readiness_report
from ansible_collections.s390x.vfio_ap.plugins.filter.readiness_summary import readiness_summary
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_step import audit_step, write_reports

FORMATS = ["json", "markdown", "html", "junit"]


@pytest.fixture(scope="module")
def demo_hostvars(tmp_path_factory, demo_fleet_path):
    facts = facts_for_fleet(demo_fleet_path, tmp_path_factory.mktemp("audit-step"))
    hostvars = {
        name: {"ansible_facts": {"vfio_ap": f}, "vfio_ap_migration_address": f"192.0.2.{i}"} for i, (name, f) in enumerate(facts.items())
    }
    hostvars["kvm-new"] = {"ansible_host": "kvm-new"}  # in the inventory, never gathered
    return hostvars


@pytest.mark.parametrize(
    "options",
    [{}, {"rules": "strict", "limit": 2, "nearest": 1}, {"migration_network": "192.0.2.0/24", "formats": ["html"]}],
    ids=["defaults", "options", "commands"],
)
def test_the_step_agrees_with_the_filters(demo_hostvars, options):
    hosts = sorted(demo_hostvars)
    formats = options.pop("formats", FORMATS)
    found = audit_step(demo_hostvars, hosts, report_dir="/srv/reports", formats=formats, title="T", **options)
    fleet = fleet_facts(demo_hostvars, hosts)
    plan = migration_plan(demo_hostvars, hosts=fleet["gathered"], **options)
    assert found["plan"] == plan
    assert found["not_audited"] == fleet["missing"] == ["kvm-new"]
    assert found["summary"] == readiness_summary(plan, not_audited=fleet["missing"], report_dir="/srv/reports")
    assert found["files"] == readiness_report(plan, formats=formats, title="T", not_audited=fleet["missing"])


def test_no_formats_no_files(demo_hostvars):
    assert audit_step(demo_hostvars, sorted(demo_hostvars), formats=[])["files"] == {}


@pytest.mark.parametrize(
    ("hosts", "words"),
    [(["kvm-new"], "s390x.vfio_ap.migration_plan: hosts: expected at least one inventory host"), ("kvm-a1", "s390x.vfio_ap._fleet_facts")],
)
def test_bad_input_is_named(demo_hostvars, hosts, words):
    with pytest.raises(ValueError, match=words.replace(".", r"\.")):
        audit_step(demo_hostvars, hosts if isinstance(hosts, list) else [hosts, 5])


def _modes(path):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in [path, *path.iterdir()]}


def test_written_with_their_modes_whatever_the_umask_then_left_alone(tmp_path):
    target = tmp_path / "a" / "b" / "reports"
    old = os.umask(0o077)
    try:
        changed = write_reports(str(target), {"readiness.md": "# one\n", "readiness.json": "{}\n"})
    finally:
        os.umask(old)
    assert changed == [
        str(tmp_path / "a"),
        str(tmp_path / "a" / "b"),
        str(target),
        str(target / "readiness.md"),
        str(target / "readiness.json"),
    ]
    assert _modes(target) == {"reports": 0o755, "readiness.md": 0o644, "readiness.json": 0o644}
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o755
    assert (target / "readiness.md").read_text() == "# one\n"
    inode = (target / "readiness.md").stat().st_ino
    assert write_reports(str(target), {"readiness.md": "# one\n", "readiness.json": "{}\n"}) == []  # a second run changes nothing
    assert (target / "readiness.md").stat().st_ino == inode


def test_only_what_differs_is_changed(tmp_path):
    write_reports(str(tmp_path), {"a.md": "a", "b.md": "b", "c.md": "c"})
    (tmp_path / "b.md").chmod(0o600)
    tmp_path.chmod(0o700)
    inode = (tmp_path / "a.md").stat().st_ino
    changed = write_reports(str(tmp_path), {"a.md": "a", "b.md": "b", "c.md": "c2 \u00e9"})
    assert changed == [str(tmp_path), str(tmp_path / "b.md"), str(tmp_path / "c.md")]
    assert _modes(tmp_path) == {tmp_path.name: 0o755, "a.md": 0o644, "b.md": 0o644, "c.md": 0o644}
    assert (tmp_path / "c.md").read_text(encoding="utf-8") == "c2 \u00e9"
    assert (tmp_path / "a.md").stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md", "c.md"]  # no temporary file left


@pytest.mark.parametrize(
    ("prepare", "words"),
    [
        (lambda d: (d / "readiness.md").mkdir(), "it is a directory"),
        (lambda d: (d / "readiness.md").symlink_to(d / "elsewhere"), "symbolic link"),
        (lambda d: (d.parent / "file").write_text("x"), "not a directory"),
    ],
    ids=["report-is-a-directory", "report-is-a-link", "directory-is-a-file"],
)
def test_refusals_name_the_path(tmp_path, prepare, words):
    directory = tmp_path / "out"
    directory.mkdir()
    prepare(directory)
    target = str(tmp_path / "file" / "out") if words == "not a directory" else str(directory)
    with pytest.raises(HostPathError, match=words):
        write_reports(target, {"readiness.md": "text"})
    assert not (directory / "elsewhere").exists()
