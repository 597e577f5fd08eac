"""python-magic 0.4.27 running on the same libmagic as magicguard.

The side-by-side tests compare ``magicguard.compat`` with the real
python-magic.  python-magic loads libmagic with ctypes; the installed one
finds the *system* library (5.44 here).  Its answers can only be compared
with ours when both use the same library and database, so:

* in the system build (``MAGICGUARD_SYSTEM_LIBMAGIC=1``) magicguard links
  that same system library: the installed python-magic is the reference;
* in the bundled build, the static ``libmagic.a`` that ``build_libmagic.py``
  built (5.46) is linked into a shared library and python-magic's own,
  unmodified code is imported a second time (as ``_pm_same_lib``) with its
  loader returning that library.  Its default database is the build tree's
  ``share/misc/magic.mgc``, the file magicguard bundles (checked).

Either way ``version()`` of both must agree, which the fixture asserts.
"""

from __future__ import annotations

import ctypes
import filecmp
import importlib.util
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Callable, Optional, cast

import magicguard
from magicguard import _lowlevel

ROOT = Path(__file__).resolve().parent.parent
ALIAS = "_pm_same_lib"


def _static_build() -> Optional[Path]:
    """The ``build/libmagic/<key>`` prefix of the libmagic linked into
    magicguard (``build_libmagic.Built``), if its ``file`` is that version."""
    sys.path.insert(0, str(ROOT))
    try:
        import build_libmagic
    except ImportError:
        return None
    finally:
        sys.path.remove(str(ROOT))
    built = build_libmagic.Built(build_libmagic.prefix_dir())
    if not built.static_lib.is_file() or not built.file_binary.is_file():
        return None
    want = "file-{}.{}".format(*divmod(magicguard.libmagic_version(), 100))
    out = subprocess.run([str(built.file_binary), "--version"], capture_output=True, text=True, timeout=30)
    return built.prefix if (out.stdout or out.stderr).splitlines()[:1] == [want] else None


def _shared_from_static(prefix: Path, workdir: Path) -> Path:
    """Link ``libmagic.a`` into a shared library (-Bsymbolic: its calls into
    itself never resolve to another libmagic loaded in the process)."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise LookupError("no C compiler to link libmagic.a into a shared library")
    out = workdir / "libmagic-same.so"
    subprocess.run([compiler, "-shared", "-o", str(out), "-Wl,--whole-archive",
                    str(prefix / "lib" / "libmagic.a"), "-Wl,--no-whole-archive",
                    "-Wl,-Bsymbolic"], check=True, capture_output=True, timeout=120)
    return out


def _import_with_library(library: Path) -> types.ModuleType:
    """python-magic's package code, imported under ``ALIAS``, bound to ``library``."""
    import magic as installed  # the real package: its directory and its compat part

    package_dir = os.path.dirname(installed.__file__ or "")
    loader = types.ModuleType(ALIAS + ".loader")

    def load_lib() -> Any:
        return ctypes.CDLL(str(library))

    loader.load_lib = load_lib  # type: ignore[attr-defined]
    sys.modules[loader.__name__] = loader
    spec = importlib.util.spec_from_file_location(
        ALIAS, os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[ALIAS] = module
    spec.loader.exec_module(module)
    return module


def load(workdir: Path) -> types.ModuleType:
    """python-magic 0.4.27 on magicguard's libmagic (see the module docstring).

    Raises LookupError when this environment cannot provide it (an installed
    wheel away from its build tree, no C compiler, no system libmagic for
    python-magic's own import).
    """
    if ALIAS in sys.modules:
        return sys.modules[ALIAS]
    try:
        import magic as installed
    except ImportError as exc:  # it loads the system libmagic, absent under scripts/check-wheel
        raise LookupError(f"python-magic does not import: {exc}") from exc

    if not magicguard.BUNDLED_LIBMAGIC:
        module = installed
    else:
        prefix = _static_build()
        if prefix is None:
            raise LookupError("no build/libmagic tree of the bundled libmagic next to the sources")
        database = prefix / "share" / "misc" / "magic.mgc"
        if not filecmp.cmp(database, _lowlevel.BUNDLED_DATABASE, shallow=False):
            raise LookupError(f"{database} differs from the bundled database")
        module = _import_with_library(_shared_from_static(prefix, workdir))
    loaded: int = cast(Callable[[], int], module.version)()  # python-magic leaves it unannotated
    if loaded != magicguard.libmagic_version():
        raise LookupError(f"python-magic loads libmagic {loaded}, "
                          f"magicguard {magicguard.libmagic_version()}")
    sys.modules[ALIAS] = module
    return module
