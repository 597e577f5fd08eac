"""The CFFI out-of-line build of ``magicguard._native``.

Declarations come from ``csrc/``: libmagic's API (``libmagic_api.h``), the
shim's functions (``shim.h``, ``trap.h``, ``mg_wchar.h``, ``mg_process.h``)
and the capability constants (``capabilities.h``).  Nothing here restates a value from ``<magic.h>``.

Two builds, chosen by the environment at build time:

* bundled (default): libmagic 5.47 with its patches and the zlib, bzip2,
  xz and zstd decoders, all in the ``libmagic.a`` that ``build_libmagic.py``
  builds, linked statically; the extension then needs only libc and exports
  only its ``PyInit_`` symbol.  ``mg_engine_info()`` (in that archive) names
  the release, patches and decompressors.
* system (``MAGICGUARD_SYSTEM_LIBMAGIC=1``): links the system ``-lmagic``,
  for distribution packagers.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent
CSRC = ROOT / "csrc"
sys.path.insert(0, str(ROOT))
import build_libmagic  # noqa: E402  (needs ROOT on sys.path under build isolation)

SYSTEM = os.environ.get("MAGICGUARD_SYSTEM_LIBMAGIC", "") not in ("", "0")
MODULE = "magicguard._native"
# Shim sources, compiled with the extension.  (The bundled libmagic.a also
# carries csrc/alloc.c, tail.c and capture.c, the allocation wrappers and
# hooks it is compiled to call: see build_libmagic.py HOOK_SOURCES.)
SOURCES = ["shim.c",
           "trap.c",        # the SIGBUS trap: handler, guard stack, mg_copy
           "identify.c",    # mg_buffer/mg_mapping; the libmagic internals
           "handle.c",      # mg_handle: one C call per libmagic use
           "mapping.c",     # mmap helpers and the guarded gather
           "mg_wchar.c",    # the CLI's iswprint/wcwidth
           "mg_process.c"]  # the sandbox workers' prctl


def _cdef_text(name: str) -> str:
    """A csrc header with its preprocessor lines (guards, includes) removed.

    cdef understands declarations and ``#define NAME ...`` only (kept: the
    ``MAGIC_*`` names and trap.h's ``MG_*`` integer constants).
    """
    lines = (CSRC / name).read_text().splitlines()
    return "\n".join(
        line for line in lines
        if not line.startswith("#") or line.startswith(("#define MAGIC_", "#define MG_"))
    )


def _capability_cdef() -> str:
    names = re.findall(r"static const int (MG_\w+) =", (CSRC / "capabilities.h").read_text())
    return "\n".join(f"static const int {name};" for name in dict.fromkeys(names))


def _warnings() -> list[str]:
    if sys.platform == "win32":
        return []
    # Hidden by default: the extension exports only PyInit__native, which
    # Python's headers mark visible themselves.
    return ["-Wall", "-Wextra", "-fvisibility=hidden"]


ffibuilder = FFI()
ffibuilder.cdef(_cdef_text("libmagic_api.h"))
ffibuilder.cdef(_cdef_text("shim.h"))
ffibuilder.cdef(_cdef_text("trap.h"))
ffibuilder.cdef(_cdef_text("mg_wchar.h"))  # the CLI's name printing
ffibuilder.cdef(_cdef_text("mg_process.h"))  # the sandbox workers' hardening
ffibuilder.cdef(_capability_cdef())
if not SYSTEM:
    # Defined in the bundled libmagic.a (build_libmagic.py): a JSON string.
    ffibuilder.cdef("const char *mg_engine_info(void);")

_kwargs: dict[str, object] = {
    # setuptools insists on relative source paths.
    "sources": [os.path.relpath(CSRC / s) for s in SOURCES],
    "include_dirs": [str(CSRC)],
    "extra_compile_args": _warnings(),
    "define_macros": [("MG_BUNDLED_BUILD", "0" if SYSTEM else "1")],
}
# dladdr (mg_libmagic_object) is in libdl before glibc 2.34 (the
# manylinux_2_28 images); later glibcs keep an empty libdl for this.
_libraries = ["dl"] if sys.platform.startswith("linux") else []
if SYSTEM:
    _kwargs["libraries"] = ["magic", *_libraries]
else:
    _built = build_libmagic.Built(build_libmagic.prefix_dir())
    # The include directory must come first so the bundled <magic.h> wins
    # over a system one.
    _kwargs["include_dirs"] = [str(_built.include_dir), str(CSRC)]
    _kwargs["extra_objects"] = [str(_built.static_lib)]
    _kwargs["libraries"] = _libraries
    _kwargs["define_macros"] = [
        ("MG_BUNDLED_BUILD", "1"),
        ("MG_DATABASE_FORMAT_BUILD", str(build_libmagic.DATABASE_FORMAT)),
    ]
    if sys.platform == "darwin":
        _kwargs["extra_link_args"] = ["-Wl,-exported_symbol,_PyInit__native"]
    else:
        # Keep libmagic's symbols private to this extension, so another
        # libmagic in the same process (python-magic, say) cannot collide.
        _kwargs["extra_link_args"] = ["-Wl,--exclude-libs,ALL"]

ffibuilder.set_source(
    MODULE,
    '#include <magic.h>\n#include "shim.h"\n#include "trap.h"\n#include "capabilities.h"\n'
    '#include "mg_wchar.h"\n#include "mg_process.h"\n'
    + ("" if SYSTEM else "const char *mg_engine_info(void);\n"),
    **_kwargs,  # type: ignore[arg-type]
)

if __name__ == "__main__":
    if not SYSTEM:
        build_libmagic.ensure_built()
    ffibuilder.compile(verbose=True)
