"""The raw-C baseline shared by the benchmarks: bench/raw_magic.c, built
against the same libmagic as the extension (or the system's, for measuring
python-magic, which loads the system libmagic), and run over a file list.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_raw(out_dir: Path, *, system: bool = False) -> Path:
    """Compile raw_magic.c: against the bundled libmagic the extension links
    (the default, when the extension is the bundled build) or against the
    system's ``-lmagic`` (``system=True``, or a system build of magicguard)."""
    import magicguard

    exe = out_dir / ("raw_magic_system" if system else "raw_magic")
    cmd = ["cc", "-O2", "-pthread", "-o", str(exe)]
    if magicguard.BUNDLED_LIBMAGIC and not system:
        import build_libmagic

        built = build_libmagic.Built(build_libmagic.prefix_dir())
        cmd += ["-I", str(built.include_dir), str(ROOT / "bench" / "raw_magic.c"), str(built.static_lib)]
    else:
        cmd += [str(ROOT / "bench" / "raw_magic.c"), "-lmagic"]
    subprocess.run(cmd, check=True)
    return exe


def parse_kv(text: str) -> dict[str, str]:
    """raw_magic's ``key=value`` lines."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and "\t" not in line)


def run_raw(exe: Path, paths: Sequence[str], *, mode: str = "buffer", rounds: int = 1,
            warmup: int = 1, threads: int = 1, flags: int = 0,
            database: Optional[str] = None) -> dict[str, str]:
    """Run raw_magic over ``paths`` and return its figures (times in ns)."""
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as listing:
        listing.write("".join(f"{p}\n" for p in paths))
    try:
        args = [str(exe), "-m", mode, "-r", str(rounds), "-w", str(warmup), "-t", str(threads),
                "-f", str(flags), "-l", listing.name]
        if database is not None:
            args += ["-d", database]
        env = {k: v for k, v in os.environ.items() if k != "MAGIC"}
        out = subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout
    finally:
        os.unlink(listing.name)
    figures = parse_kv(out)
    if figures.get("errors") != "0":
        raise RuntimeError(f"raw_magic reported errors:\n{out}")
    return figures
