"""The public surface of the collection's filters: a few filters for users; what serves only the roles is internal.

Internal plugins are ``_``-prefixed and say so ("[INTERNAL] ... must only be used from roles in this
collection"), which keeps them out of the docsite's index; no public filter takes ``hostvars``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

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


def test_a_deprecated_filter_is_routed_with_its_removal_version():
    routing = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["plugin_routing"]["filter"]
    assert set(routing) == DEPRECATED
    for name in DEPRECATED:
        assert routing[name]["deprecation"]["removal_version"] == _doc(name)["deprecated"]["removed_in"]
