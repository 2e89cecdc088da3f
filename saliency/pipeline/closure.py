"""The code a stage runs: its import closure, read from the source (nothing is imported), and a digest.

A stage's code fingerprint is the SHA-256 of the source of every module the stage can execute:
the module holding its ``run`` function, every module that function (and the same-module functions it
names, transitively) imports at any depth — top-level *and* function-level imports —, and every
package ``__init__`` on the way (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``).
Only modules of the followed packages (``saliency`` and the packages of extra roots) are followed;
third-party code enters the key through :func:`dependency_versions` instead.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import inspect
import platform
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

#: installed distributions whose version can change the numbers a stage writes
NUMERIC_DEPENDENCIES = ("numpy", "scipy", "torch", "pandas", "pyarrow", "pillow", "albumentations", "h5py")


def dependency_versions(names: Iterable[str] = NUMERIC_DEPENDENCIES) -> dict[str, str]:
    """``{distribution: installed version}`` (``"absent"`` when not installed) plus the Python version."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@lru_cache(maxsize=64)
def _top_level(top: str) -> tuple[Path | None, Path | None]:
    """(package directory, module file) of a top-level name, as found on the path (not imported)."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None, None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))), None
    origin = Path(spec.origin) if spec.origin else None
    return None, origin if origin is not None and origin.suffix == ".py" else None


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (a package's ``__init__.py``), found on disk; None if absent."""
    top, *rest = name.split(".")
    base, single = _top_level(top)
    if base is None:
        return single if not rest else None
    p = base.joinpath(*rest)
    for cand in (p / "__init__.py", p.with_suffix(".py")):
        if cand.is_file():
            return cand
    return None


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_in(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module an import statement anywhere in ``tree`` may load: ``import a.b`` → a.b;
    ``from a import b`` → a and a.b (b may be a submodule)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            if base:
                out.add(base)
                out.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return out


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_bytes(), filename=str(path))


@lru_cache(maxsize=4096)
def _file_imports(path: Path, module: str, _stamp: tuple[int, int]) -> frozenset[str]:
    return frozenset(imports_in(_parse(path), module, path.name == "__init__.py"))


def file_imports(path: Path, module: str) -> frozenset[str]:
    """:func:`imports_in` of a whole file, memoised by (path, size, mtime_ns): edits are seen."""
    st = path.stat()
    return _file_imports(path, module, (st.st_size, st.st_mtime_ns))


def import_closure(roots: Iterable[str], packages: Iterable[str]) -> dict[str, Path]:
    """``{module: file}`` of ``roots`` and everything they import (any depth, function-level imports
    included) within ``packages`` (top-level names), with every parent package's ``__init__``."""
    follow = set(packages)
    seen: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in follow:
            continue
        path = module_file(name)
        if path is None:  # an attribute named by ``from pkg import attr``, or not installed
            continue
        seen[name] = path
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(file_imports(path, name))
    return dict(sorted(seen.items()))


def function_roots(func: Callable) -> tuple[str, set[str]]:
    """(module of ``func``, the modules imported by ``func`` and by the same-module functions it names,
    transitively, plus that module's top-level imports). The module itself is not a root: the imports
    of its *other* functions are not followed."""
    module = func.__module__
    path = Path(inspect.getsourcefile(func) or "")
    tree = _parse(path)
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    is_package = path.name == "__init__.py"
    roots: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            roots |= imports_in(node, module, is_package)
    done: set[str] = set()
    todo = [func.__name__]
    while todo:
        name = todo.pop()
        if name in done or name not in defs:
            continue
        done.add(name)
        roots |= imports_in(defs[name], module, is_package)
        todo.extend(n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name))
    return module, roots


def code_fingerprint(func: Callable, extra: Iterable[str] = (), packages: Iterable[str] = ("saliency",)) -> dict:
    """What a stage's code is: the digest of its import closure's source, how many modules that is,
    and the installed versions of the numeric dependencies."""
    extra = tuple(extra)
    module, roots = function_roots(func)
    follow = {*packages, module.split(".")[0], *(m.split(".")[0] for m in extra)}
    closure = import_closure([*roots, *extra], follow)
    own = Path(inspect.getsourcefile(func) or "")
    closure = dict(sorted({**closure, module: own}.items()))
    h = hashlib.sha256()
    for name, path in closure.items():
        h.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return {"source": h.hexdigest(), "modules": len(closure), "versions": dependency_versions()}
