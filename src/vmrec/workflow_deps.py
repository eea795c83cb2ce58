"""Code dependencies of the workflow's scripts, computed from their imports.

A rule's `code=` input is the import closure within `vmrec` of the rule's script: every module of the
package the script imports, directly or through other vmrec modules, at any depth of the file (imports
inside functions count: they run when the script does). So editing a module reruns exactly the rules
whose scripts can execute it, and nothing else; no hand-kept list can drift from the code.

What counts as imported (as Python executes it):
  - `import vmrec.a.b`: vmrec/__init__.py, vmrec/a (its __init__.py when a package) and vmrec/a/b;
  - `from vmrec.a import x`: vmrec.a's files as above, plus vmrec/a/x when x is a submodule;
  - relative imports inside the package (`from . import x`, `from .x import y`, `from ..x import y`);
  - a package stands for its __init__.py, whose own imports are followed in turn; where both a package
    `x/` and a module `x.py` exist, the package wins (as in Python's path finder).
Imports by a computed name (importlib.import_module) are not seen.

Light (ast only): the rule files call it while Snakemake parses them; each module is read once per process.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path


def _module_file(src: Path, module: str) -> Path | None:
    """The file of module `module` (dotted) under `src`: the package's __init__.py or the module's .py."""
    base = src.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _with_parents(module: str) -> list[str]:
    """`a.b.c` -> [a, a.b, a.b.c]: importing a module runs every package above it first."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names imported from it) for every import statement of a module's syntax tree, relative
    imports resolved against `module`."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            if node.level == 0:
                out.append((node.module or "", names))
                continue
            package = module.split(".") if is_package else module.split(".")[:-1]
            if node.level - 1 > len(package) - 1:
                raise ImportError(f"{module}: relative import beyond the top-level package "
                                  f"(level {node.level})")
            base = package[: len(package) - (node.level - 1)]
            out.append((".".join([*base, *([node.module] if node.module else [])]), names))
    return out


def _direct_imports(src: Path, path: Path, module: str, package: str) -> tuple[str, ...]:
    """The modules of `package` that the file `path` (module `module`, '' for a script) imports itself."""
    st = path.stat()
    return _parsed_imports(src, path, module, package, (st.st_mtime_ns, st.st_size))


@cache
def _parsed_imports(src: Path, path: Path, module: str, package: str,
                    stamp: tuple[int, int]) -> tuple[str, ...]:
    """_direct_imports, read once per version of the file (`stamp`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for target, names in _imported_names(tree, module, path.name == "__init__.py"):
        if target != package and not target.startswith(package + "."):
            continue
        if _module_file(src, target) is None:
            raise ImportError(f"{path}: imports {target}, which is not a module under {src}")
        found += _with_parents(target)
        found += [f"{target}.{n}" for n in names if n != "*" and _module_file(src, f"{target}.{n}")]
    return tuple(dict.fromkeys(found))


def _module_name(src: Path, path: Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _closure_of_module(src: Path, module: str, package: str) -> frozenset[str]:
    """Every module of `package` that importing `module` runs (itself included). Each file is parsed once
    per process (and again only when it changes); the walk itself is cheap."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(src, name)
        todo += [m for m in _direct_imports(src, path, name, package) if m not in seen]
    return frozenset(seen)


def code_deps(script: str | Path, src: str | Path, package: str = "vmrec") -> list[str]:
    """The files of `package` (a folder under `src`) that running `script` imports, directly or through
    other modules of the package, as sorted absolute paths: the `code=` input of the script's rule."""
    src = Path(src).resolve()
    script = Path(script).resolve()
    modules: set[str] = set()
    try:
        own = _module_name(src, script)  # a file inside the package itself
    except ValueError:
        own = ""
    for m in _direct_imports(src, script, own, package):
        modules |= _closure_of_module(src, m, package)
    return sorted(str(_module_file(src, m)) for m in modules)
