"""Every module documents sysroot (and the writers their AP ID options) through the shared doc fragments."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

MODULES = Path(__file__).resolve().parents[3] / "plugins" / "modules"
SHARED = {
    "ap_facts": ("s390x.vfio_ap._options", set()),
    "ap_mask": ("s390x.vfio_ap._options.mask_ids", {"adapters", "domains"}),
    "mdev": ("s390x.vfio_ap._options.assign_ids", {"adapters", "domains", "control_domains"}),
    "migratable": ("s390x.vfio_ap._options", set()),
}


def _documentation(name: str) -> dict:
    text = (MODULES / f"{name}.py").read_text()
    start = text.index('DOCUMENTATION = r"""') + len('DOCUMENTATION = r"""')
    return yaml.safe_load(text[start : text.index('"""', start)])


@pytest.mark.parametrize(("module", "fragment", "ids"), [(m, *v) for m, v in SHARED.items()])
def test_shared_options_come_from_the_fragments(module, fragment, ids):
    doc = _documentation(module)
    fragments = doc["extends_documentation_fragment"]
    assert "s390x.vfio_ap._options" in fragments and fragment in fragments
    assert "s390x.vfio_ap._attributes.idempotent" in fragments
    assert not ({"sysroot"} | ids) & set(doc.get("options") or {}), "document these through the fragment"


def test_every_module_is_listed():
    assert {p.stem for p in MODULES.glob("*.py") if not p.stem.startswith("_")} == set(SHARED)
