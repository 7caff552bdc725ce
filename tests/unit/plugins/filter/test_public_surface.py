"""The public surface of the collection's filters: a few filters for users; what serves only the roles is internal.

Internal plugins are ``_``-prefixed and say so ("[INTERNAL] ... must only be used from roles in this
collection"), which keeps them out of the docsite's index; no public filter takes ``hostvars``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

ROOT = Path(__file__).resolve().parents[4]
FILTERS = sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.py"))
PUBLIC = [n for n in FILTERS if not n.startswith("_")]
# The filters users call. A new public filter is a promise kept across releases: add it here on purpose.
EXPECTED_PUBLIC = {
    "ap_ids", "ap_mask", "ap_queues", "apqns", "evacuation_plan", "evacuation_report", "migration_check", "migration_plan",
    "readiness_report", "readiness_summary", "rolling_plan", "rolling_report",
}  # fmt: skip
DEPRECATED = {"evacuation_report"}


def _module(name: str):
    return importlib.import_module(f"ansible_collections.s390x.vfio_ap.plugins.filter.{name}")


def _doc(name: str) -> dict:
    return yaml.safe_load(_module(name).DOCUMENTATION)


def test_the_public_filters_are_the_expected_ones():
    assert set(PUBLIC) == EXPECTED_PUBLIC


@pytest.mark.parametrize("name", [n for n in FILTERS if n.startswith("_")])
def test_an_internal_filter_says_so(name):
    doc = _doc(name)
    assert doc["name"] == name and doc["short_description"].startswith("[INTERNAL] ")
    assert "must only be used from roles in this collection" in " ".join(doc["description"])
    assert set(_module(name).FilterModule().filters()) == {name}


@pytest.mark.parametrize("name", PUBLIC)
def test_no_public_filter_takes_hostvars(name):
    for function in _module(name).FilterModule().filters().values():
        assert not {"hostvars", "host_vars"} & set(inspect.signature(function).parameters), name


def test_a_deprecated_filter_says_so_when_called_and_in_its_docs(monkeypatch):
    """Not through meta/runtime.yml routing: Ansible loads every filter file of the collection when one filter is used,
    so a routed deprecation would warn on every run of every role."""
    assert "plugin_routing" not in yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    said = []
    monkeypatch.setattr(Display, "deprecated", lambda self, msg, **kwargs: said.append((msg, kwargs)))
    for name in sorted(DEPRECATED):
        assert _doc(name)["deprecated"]["removed_in"] == "1.0.0"
        with pytest.raises(AnsibleFilterError):
            _module(name).FilterModule().filters()[name]({"guests": "not a plan"})
    assert [kwargs for _msg, kwargs in said] == [{"version": "1.0.0", "collection_name": "s390x.vfio_ap"}] * len(DEPRECATED)


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("_*.py")))
def test_an_internal_module_says_so(name):
    module = importlib.import_module(f"ansible_collections.s390x.vfio_ap.plugins.modules.{name}")
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["short_description"].startswith("[INTERNAL] ")
    assert "must only be used from roles in this collection" in " ".join(doc["description"])


def test_the_public_modules():
    assert {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_")} == {
        "ap_facts", "ap_mask", "mdev", "migratable"
    }  # fmt: skip


def test_the_docsite_leaves_the_internal_plugins_out(tmp_path):
    spec = importlib.util.spec_from_file_location("build_docsite", ROOT / "tools" / "docsite" / "build_docsite.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    here = tmp_path / "collections" / "s390x" / "vfio_ap"
    here.mkdir(parents=True)
    for page in ("_drain_module", "mdev_module", "_fleet_facts_filter", "apqns_filter"):
        (here / f"{page}.rst").write_text(page)
    (here / "index.rst").write_text(
        "* :ansplugin:`_drain module <s390x.vfio_ap._drain#module>` -- [INTERNAL] x\n"
        "* :ansplugin:`mdev module <s390x.vfio_ap.mdev#module>` -- Ensure\n"
        ".. toctree::\n\n    _drain_module\n    mdev_module\n"
    )
    (tmp_path / "collections" / "index_filter.rst").write_text(
        "* :ansplugin:`s390x.vfio_ap._fleet_facts#filter` -- [INTERNAL] y\n* :ansplugin:`s390x.vfio_ap.apqns#filter` -- The APQNs\n"
    )
    assert build.drop_internal(tmp_path) == ["_drain_module", "_fleet_facts_filter"]
    assert sorted(p.stem for p in here.glob("*.rst")) == ["apqns_filter", "index", "mdev_module"]
    assert (here / "index.rst").read_text() == (
        "* :ansplugin:`mdev module <s390x.vfio_ap.mdev#module>` -- Ensure\n.. toctree::\n\n    mdev_module\n"
    )
    assert (tmp_path / "collections" / "index_filter.rst").read_text() == "* :ansplugin:`s390x.vfio_ap.apqns#filter` -- The APQNs\n"
