"""Code dependencies from imports (vmrec.workflow_deps): the import closure of a script within a package,
on a fake package in a temp folder, and on the real scripts: every rule's `code=` input is the closure of
its own script."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vmrec.workflow_deps import code_deps

ROOT = Path(__file__).resolve().parents[1]


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def fake(tmp_path) -> Path:
    """src/pkg: modules, a subpackage with relative imports, a lazy import, an unused module."""
    src = tmp_path / "src"
    _write(src, {
        "pkg/__init__.py": '"""top"""\n',
        "pkg/a.py": "import json\nfrom pkg.b import helper\n",
        "pkg/b.py": "def helper():\n    from pkg import c  # lazy: runs when helper does\n    return c\n",
        "pkg/c.py": "X = 1\n",
        "pkg/unused.py": "import pkg.a\n",
        "pkg/sub/__init__.py": "from .inner import thing\n",
        "pkg/sub/inner.py": "from ..c import X\nfrom . import leaf\nthing = X\n",
        "pkg/sub/leaf.py": "import os\n",
        "pkg/sub/other.py": "Y = 2\n",
        "pkg/mod_or_pkg.py": "raise SystemExit('the package of the same name wins')\n",
        "pkg/mod_or_pkg/__init__.py": "from pkg.mod_or_pkg import part\n",
        "pkg/mod_or_pkg/part.py": "Z = 3\n",
    })
    return src


def _deps(src: Path, script_text: str, tmp_path: Path) -> set[str]:
    script = tmp_path / "scripts" / f"s{len(list(tmp_path.glob('scripts/*.py')))}.py"
    _write(tmp_path, {str(script.relative_to(tmp_path)): script_text})
    return {str(Path(p).relative_to(src)) for p in code_deps(script, src, package="pkg")}


def test_from_import_follows_modules_and_lazy_imports(fake, tmp_path):
    deps = _deps(fake, "import numpy\nfrom pkg.a import helper\n", tmp_path)
    assert deps == {"pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/c.py"}


def test_plain_import_takes_every_package_above(fake, tmp_path):
    deps = _deps(fake, "import pkg.sub.leaf as leaf\n", tmp_path)
    # the subpackage's __init__ runs first and imports inner (relative), which imports c and leaf
    assert deps == {"pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/inner.py", "pkg/sub/leaf.py",
                    "pkg/c.py"}


def test_from_package_import_submodule(fake, tmp_path):
    assert _deps(fake, "from pkg import c\n", tmp_path) == {"pkg/__init__.py", "pkg/c.py"}
    assert "pkg/sub/other.py" in _deps(fake, "from pkg.sub import other, thing\n", tmp_path)
    assert "pkg/sub/other.py" not in _deps(fake, "from pkg.sub import thing\n", tmp_path)


def test_a_package_wins_over_a_module_of_the_same_name(fake, tmp_path):
    deps = _deps(fake, "def main():\n    from pkg.mod_or_pkg import part\n", tmp_path)
    assert deps == {"pkg/__init__.py", "pkg/mod_or_pkg/__init__.py", "pkg/mod_or_pkg/part.py"}


def test_other_packages_and_unknown_modules(fake, tmp_path):
    assert _deps(fake, "import os\nimport pkgx\nfrom pkgy import pkg\n", tmp_path) == set()
    with pytest.raises(ImportError, match="pkg.missing"):
        _deps(fake, "import pkg.missing\n", tmp_path)


def test_closure_is_absolute_and_sorted(fake, tmp_path):
    _write(tmp_path, {"scripts/t.py": "from pkg.sub import thing\n"})
    deps = code_deps(tmp_path / "scripts" / "t.py", fake, package="pkg")
    assert deps == sorted(deps) and all(Path(p).is_absolute() for p in deps)


def test_real_scripts_import_what_they_need():
    src = ROOT / "src"
    deps = {Path(p).relative_to(src / "vmrec").as_posix()
            for p in code_deps(ROOT / "scripts" / "train.py", src)}
    assert {"__init__.py", "models.py", "train.py", "graph.py", "registry.py", "device.py"} <= deps
    assert "features.py" not in deps


def test_every_rule_lists_the_closure_of_its_own_script_as_code():
    """The rule files take `code=` from the rule's own script (script_and_code), never a hand list; the
    exceptions are the rules whose outputs must not follow a code edit (their comments say why)."""
    from test_envs import _rules

    unlisted = {"download_kuairec"}
    src = ROOT / "src"
    checked = set()
    for dataset in ("synthetic", "kuairec"):
        for rule in _rules({"scale": "tiny", "dataset": dataset}):
            if not rule.script or rule.name in unlisted:
                continue
            script = (ROOT / "rules" / rule.script).resolve()
            code = sorted(str(f) for f in rule.input.get("code", []))
            assert code == code_deps(script, src), f"rule {rule.name}: code= is not the closure of {script}"
            checked.add(rule.name)
    assert {"synthesize", "ingest", "features", "train", "estimate_weights", "recovery_case"} <= checked
