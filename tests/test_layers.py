"""The package's layering, checked on its source with ``ast``.

* One way into C: ``_lowlevel`` (with the cffi module ``_native`` it
  wraps) is the only module that imports ``ctypes`` or ``_native``.
* No module reaches into another module's privates: none imports a
  ``_name`` from another package module, or uses ``Imported._name`` on a
  class or module it imported from one, except from the modules listed in
  ``SHARED_PRIVATE`` below.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Optional

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "magicguard"

#: The raw layer: the only module that may import ctypes or _native.
RAW_LAYER = {"_lowlevel"}

#: Modules whose ``_names`` other package modules may import, and why.
SHARED_PRIVATE = {
    # The raw layer: its underscore names (_h_buffer, _new_result, _unpack,
    # ...) are the C-facing helpers the safe layer (cookie.py) is built on.
    "_lowlevel",
    "_native",
    # Leading-underscore modules that exist to be shared inside the
    # package: argument validation and the version string.
    "_validate",
    "_version",
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _target(path: Path, node: ast.ImportFrom, name: Optional[str] = None) -> Optional[str]:
    """The package module (dotted, relative to the package) an import names,
    or None when it is not one of the package's."""
    if node.level == 0:
        module = node.module or ""
        if module != "magicguard" and not module.startswith("magicguard."):
            return None
        parts = module.split(".")[1:]
    else:
        here = list(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
        if node.level > 1:
            here = here[:len(here) - (node.level - 1)]
        parts = here + (node.module.split(".") if node.module else [])
    if name is not None:
        parts = [*parts, name]
    return ".".join(parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _last(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an ``import`` or ``from`` statement names (absolute or
    relative), with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, "." * node.level + (node.module or "")
            for alias in node.names:
                yield node.lineno, "." * node.level + (node.module or "") + "." + alias.name


def _raw_imports(path: Path, source: Optional[str] = None) -> list[str]:
    """Each import of ctypes or _native in the module at ``path`` (its text
    is ``source`` when given)."""
    text = path.read_text(encoding="utf-8") if source is None else source
    found = []
    for line, name in _imports(ast.parse(text, str(path))):
        parts = [p for p in name.split(".") if p]
        if parts[:1] == ["ctypes"] or "_native" in parts:
            found.append(f"{_module_name(path)}:{line} imports {name}")
    return found


def _private_reaches(path: Path, source: Optional[str] = None) -> list[str]:
    """Each private name of another package module that the module at
    ``path`` imports or uses (its text is ``source`` when given)."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, str(path))
    me = _module_name(path)
    found = []
    imported: dict[str, str] = {}  # local name -> package module it came from
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = _target(path, node)
        if source is None:
            continue
        for alias in node.names:
            full = _target(path, node, alias.name)
            assert full is not None
            local = alias.asname or alias.name
            if _is_private(alias.name):
                # `from . import _module` imports a module, not a name of one:
                # allowed; `from .module import _name` is a reach.
                is_module = (PACKAGE / Path(*full.split("."))).with_suffix(".py").exists() \
                    or (PACKAGE / Path(*full.split("."))).is_dir()
                owner = full if is_module else source
                if not is_module and owner != me and _last(owner) not in SHARED_PRIVATE:
                    found.append(f"{me}:{node.lineno} imports {alias.name} from {owner}")
            if source != me and _last(source) not in SHARED_PRIVATE:
                imported[local] = source
    found.extend(f"{me}:{node.lineno} uses {node.value.id}.{node.attr} ({imported[node.value.id]})"
                 for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                 and node.value.id in imported and _is_private(node.attr))
    return found


def test_the_package_is_where_the_test_looks() -> None:
    names = {_module_name(p) for p in _modules()}
    assert {"_lowlevel", "cookie", "sandbox", "_validate"} <= names, names


@pytest.mark.parametrize("path", _modules(), ids=_module_name)
def test_only_the_raw_layer_imports_ctypes_or_native(path: Path) -> None:
    if _module_name(path) in RAW_LAYER:
        return
    assert _raw_imports(path) == []


@pytest.mark.parametrize("path", _modules(), ids=_module_name)
def test_no_module_reaches_into_another_modules_privates(path: Path) -> None:
    assert _private_reaches(path) == []


def test_the_checks_catch_what_they_forbid() -> None:
    """Each rule fails on a module that breaks it (the checks can fail), and
    passes what the allow-list allows."""
    source = (
        "import ctypes\n"
        "from ._native import lib\n"
        "from .cookie import _fspath, Cookie\n"
        "from ._validate import fspath as _ok\n"
        "from ._lowlevel import _unpack\n"
        "from . import _lowlevel\n"
        "Cookie._check_flags(0)\n"
    )
    probe = PACKAGE / "probe.py"  # never written: its text is given
    raw = _raw_imports(probe, source)
    assert any("ctypes" in r for r in raw) and any("_native" in r for r in raw), raw
    reaches = _private_reaches(probe, source)
    assert any("_fspath from cookie" in r for r in reaches), reaches
    assert any("Cookie._check_flags" in r for r in reaches), reaches
    assert len(reaches) == 2, reaches
