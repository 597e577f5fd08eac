"""Build magicguard: the bundled libmagic first, then the CFFI extension.

Configuration lives in pyproject.toml; this file only wires the build steps
that need code (see build_libmagic.py and build_ffi.py).
"""

import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

# Under build isolation the project directory is not on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_libmagic

SYSTEM = os.environ.get("MAGICGUARD_SYSTEM_LIBMAGIC", "") not in ("", "0")
DATABASE = os.path.join("magicguard", "_data", "magic.mgc")


class BuildExt(build_ext):
    """Build (or reuse) libmagic, then the extension, then ship magic.mgc."""

    def run(self) -> None:
        if not SYSTEM:
            built = build_libmagic.ensure_built()
            targets = [os.path.join(self.build_lib, DATABASE)]
            if self.inplace or self.editable_mode:
                targets.append(os.path.join("src", DATABASE))
            for target in targets:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(built.database, target)
        super().run()


class SDist(sdist):
    """Carry the verified tarballs (libmagic and its four decompressors), so
    the sdist builds offline."""

    def make_release_tree(self, base_dir: str, files: list) -> None:
        super().make_release_tree(base_dir, files)
        build_libmagic.fetch_all(build_libmagic.Path(base_dir) / "vendor")


setup(
    cffi_modules=["build_ffi.py:ffibuilder"],
    cmdclass={"build_ext": BuildExt, "sdist": SDist},
    options={"bdist_wheel": {"py_limited_api": "cp39"}},
)
