# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release checks fail when what they guard is broken (make sanity / docs / ee-introspect)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY36 = sorted(Path("/root/.pyenv/versions").glob("3.6.*/bin/python3.6"))


def load(path: Path):
    """Return the module loaded from a script path of this checkout."""
    spec = importlib.util.spec_from_file_location("release_" + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


md2rst = load(ROOT / "tools" / "docsite" / "md2rst.py")
ee_check = load(ROOT / "tests" / "sanity" / "ee_check.py")
oldpy_check = load(ROOT / "tests" / "sanity" / "oldpy_check.py")


@pytest.mark.parametrize(
    ("markdown", "guide"),
    [
        ("concepts.md", "guide_concepts"),
        ("reason-codes.md", "guide_reason_codes"),
        ("guide-can-this-guest-migrate.md", "guide_can_this_guest_migrate"),
        ("plan-schema.md", "guide_plan_schema"),
    ],
)
def test_guide_names(markdown, guide):
    assert md2rst.guide_name(Path(markdown)) == guide


@pytest.mark.parametrize(
    ("docs", "listed", "expected"),
    [
        (["concepts.md"], ["guide_concepts"], []),
        (["concepts.md", "awx.md"], ["guide_concepts"], ["docs/awx.md is not published: add guide_awx"]),
        (["concepts.md"], ["guide_concepts", "guide_gone"], ["lists guide_gone, but docs/ has no Markdown source"]),
        ([], [], []),
    ],
)
def test_every_markdown_guide_is_published(tmp_path, docs, listed, expected):
    (tmp_path / "docs" / "docsite").mkdir(parents=True)
    for name in docs:
        (tmp_path / "docs" / name).write_text("# Title\n")
    extra = {"sections": [{"title": "Guides", "toctree": listed}]}
    (tmp_path / "docs" / "docsite" / "extra-docs.yml").write_text(md2rst.yaml.safe_dump(extra))
    problems = md2rst.publication_problems(tmp_path)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_the_checkout_publishes_every_guide():
    assert md2rst.publication_problems(ROOT) == []


@pytest.mark.parametrize(
    ("lines", "names"),
    [
        (["jmespath  # from collection s390x.vfio_ap", "netaddr>=0.8"], {"jmespath", "netaddr"}),
        (["# comment only", "", "Py_Yaml==6.0"], {"py-yaml"}),
    ],
)
def test_requirement_names(lines, names):
    assert ee_check.requirement_names(lines) == names


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import netaddr\nimport json\n", {"netaddr"}),
        ("from jmespath import search\nfrom ansible.errors import AnsibleFilterError\n", {"jmespath"}),
        ("from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import x\nimport yaml\n", set()),
    ],
)
def test_controller_imports_needing_the_execution_environment(tmp_path, source, found):
    (tmp_path / "plugins" / "filter").mkdir(parents=True)
    (tmp_path / "plugins" / "filter" / "thing.py").write_text(source)
    assert set(ee_check.third_party_imports(tmp_path)) == found


def test_the_execution_environment_covers_the_plugins():
    provided = ee_check.requirement_names((ROOT / "requirements.txt").read_text().splitlines())
    missing = {m for m in ee_check.third_party_imports(ROOT) if ee_check.DISTRIBUTION_OF.get(m, m) not in provided}
    assert missing == set()


@pytest.mark.skipif(not PY36, reason="no Python 3.6 under /root/.pyenv")
@pytest.mark.parametrize(
    ("module_util", "verdict"),
    [
        ("def f(x):\n    # type: (int) -> int\n    return x\n", "2 files compile and import"),
        ("X = 1\nif (y := X):\n    pass\n", "compile: invalid syntax"),
        ("import dataclasses\n", "No module named 'dataclasses'"),
        ("from __future__ import annotations\n", "future feature annotations is not defined"),
    ],
)
def test_python36_check(tmp_path, module_util, verdict):
    coll = tmp_path / "ansible_collections" / "s390x" / "vfio_ap"
    (coll / "plugins" / "module_utils").mkdir(parents=True)
    (coll / "plugins" / "modules").mkdir()
    (coll / "plugins" / "module_utils" / "_x.py").write_text(module_util)
    (coll / "plugins" / "modules" / "m.py").write_text("from ansible.module_utils.basic import AnsibleModule\n")
    venv = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "ansible" / "module_utils"
    venv.mkdir(parents=True)
    (venv / "__init__.py").write_text("")
    (venv / "basic.py").write_text("class AnsibleModule(object):\n    pass\n")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "sanity" / "oldpy_check.py"),
            "--collection",
            str(coll),
            "--ansible-from",
            str(tmp_path / "venv"),
            "--python",
            "3.6=" + str(PY36[0]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verdict in proc.stdout
    assert proc.returncode == (0 if "compile and import" in verdict else 1)


def test_the_python36_check_names_a_missing_interpreter(tmp_path):
    coll = tmp_path / "ansible_collections" / "s390x" / "vfio_ap"
    shutil.copytree(ROOT / "plugins" / "module_utils", coll / "plugins" / "module_utils")
    (tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "ansible" / "module_utils").mkdir(parents=True)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "sanity" / "oldpy_check.py"),
            "--collection",
            str(coll),
            "--ansible-from",
            str(tmp_path / "venv"),
            "--python",
            "3.5=/nonexistent/python3.5",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "Python 3.5 not found; its compile/import check is skipped" in proc.stdout
