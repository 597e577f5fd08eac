"""``magicguard --doctor``: report how this installation of magicguard works.

``main()`` prints one JSON document and returns 0 when everything is as it
should be, 1 otherwise.  The checks that touch libmagic run in a child
process (a *probe*: ``python -c "from magicguard.doctor import probe; probe()"``),
so an extension that fails to import, crashes or hangs is reported, never
crashed into.  The probe imports magicguard, identifies a sample buffer and
this interpreter's own executable, loads the default database, and reports
what it found; the parent judges it and adds the platform.

The document (every key always present; ``null`` where a fact could not be
had)::

    ok                  true when "problems" is empty
    problems            what is wrong, one sentence each
    magicguard_version  the installed package's version
    libmagic            {"version": "5.47", "build": "bundled" | "system",
                         "loaded_from": path of the shared object providing
                         libmagic (dladdr): the extension itself when bundled,
                         "patches": the patches applied to the release (null
                         for the system build), "decompressors": the
                         built-in decompressors and their versions (null for
                         the system build), "tuning": whether the tuning
                         patches are in}
    extension           {"path": the _native module's file, "imports": bool,
                         "error": the import error, if any}
    database            {"path": the database Cookie() loads (null: libmagic's
                         default), "search_path": libmagic's default search
                         path, "format" / "expected_format": the header's
                         version and the one the bundled libmagic reads,
                         "loads": bool, "error": why not}
    sample              {"identified": bool, "buffer", "mime", "file"}
    sigbus_trap         {"installed", "on_top"}: booleans once the trap can
                        be queried, "unknown" until then
    probe               {"returncode", "stderr"} of the child process
    platform            system, release, machine, libc, Python

``main()`` is what ``magicguard --doctor`` calls (with no arguments: it
never reads ``sys.argv`` itself); ``python -m magicguard.doctor`` runs it too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
from typing import Any, Optional, Sequence

__all__ = ["diagnose", "main", "probe"]

#: A sample every supported libmagic (5.40 and later) identifies the same way.
SAMPLE = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
SAMPLE_DESCRIPTION = "PDF document, version 1.7"
SAMPLE_MIME = "application/pdf"

#: Seconds the probe may take (importing, loading the database, identifying).
PROBE_TIMEOUT = 60.0

_PROBE_CODE = "from magicguard.doctor import probe; probe()"
_UNKNOWN = "unknown"


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def probe() -> None:
    """Run the checks that touch libmagic, print their facts as one JSON line.

    Meant for the child process ``diagnose()`` starts; it never raises for a
    broken installation, it reports it.
    """
    facts: dict[str, Any] = {"extension": {"imports": False, "error": None, "path": None}}
    try:
        import magicguard
        from magicguard import _lowlevel
    except Exception as exc:  # any import failure is the finding
        facts["extension"]["error"] = _error_text(exc)
        print(json.dumps(facts), flush=True)
        return
    native = sys.modules.get("magicguard._native")
    facts["extension"] = {"imports": True, "error": None,
                          "path": getattr(native, "__file__", None)}
    facts["package"] = os.path.dirname(os.path.abspath(magicguard.__file__))
    facts["magicguard_version"] = magicguard.__version__
    version = _lowlevel.version()
    facts["libmagic"] = {
        "version": "{}.{:02d}".format(*divmod(version, 100)),
        "build": "bundled" if _lowlevel.BUNDLED else "system",
        "loaded_from": _lowlevel.loaded_object(),
    }
    try:
        engine = _lowlevel.engine()
        facts["libmagic"].update(patches=engine["patches"], tuning=engine["tuning"],
                                 decompressors=engine["decompressors"])
    except Exception as exc:  # reported, not raised
        facts["libmagic"].update(patches=None, tuning=None, decompressors=None,
                                 engine_error=_error_text(exc))
    database: dict[str, Any] = {
        "path": _lowlevel.default_database_path(),
        "search_path": _lowlevel.getpath(),
        "format": None,
        "expected_format": int(_lowlevel.constant("MG_DATABASE_FORMAT")) or None,
        "loads": False,
        "error": None,
    }
    if database["path"] is not None:
        try:
            database["format"] = _lowlevel.database_format(database["path"])
        except OSError as exc:
            database["error"] = _error_text(exc)
    try:
        magicguard.Cookie().close()
        database["loads"] = True
    except Exception as exc:  # reported, not raised
        database["error"] = _error_text(exc)
    facts["database"] = database

    sample: dict[str, Any] = {"identified": False, "buffer": None, "mime": None, "file": None,
                              "error": None}
    try:
        sample["buffer"] = magicguard.from_buffer(SAMPLE)
        sample["mime"] = magicguard.from_buffer(SAMPLE, mime=True)
        sample["file"] = magicguard.from_file(os.path.realpath(sys.executable))
        sample["identified"] = (sample["buffer"] == SAMPLE_DESCRIPTION
                                and sample["mime"] == SAMPLE_MIME)
    except Exception as exc:  # reported, not raised
        sample["error"] = _error_text(exc)
    facts["sample"] = sample

    # The SIGBUS trap (docs/safety.md): installed by the first guarded read,
    # made here on its own so that the report does not depend on the sample
    # (which may fail, and whose bytes need no trap).
    trap: dict[str, Any] = {"installed": _UNKNOWN, "on_top": _UNKNOWN}
    try:
        _lowlevel.install_sigbus_handler()
        installed, on_top = _lowlevel.sigbus_handler_status()
        trap = {"installed": installed, "on_top": on_top}
    except Exception as exc:  # reported, not raised
        trap["error"] = _error_text(exc)
    facts["sigbus_trap"] = trap
    print(json.dumps(facts), flush=True)


def _platform() -> dict[str, Any]:
    libc, libc_version = platform.libc_ver()
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "libc": f"{libc} {libc_version}".strip() or None,
        "macos": platform.mac_ver()[0] or None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }


def _run_probe(timeout: float) -> tuple[Optional[dict[str, Any]], dict[str, Any], list[str]]:
    """Start the probe; its facts (or None), the process outcome, problems."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        # Run from the directory holding this package: "-c" puts the working
        # directory first on sys.path, so the child imports this very package.
        proc = subprocess.run([sys.executable, "-c", _PROBE_CODE], capture_output=True,
                              text=True, errors="replace", timeout=timeout,
                              cwd=package_parent, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, {"returncode": None, "stderr": None}, [
            f"the probe process did not finish within {timeout:g} s"]
    except OSError as exc:
        return None, {"returncode": None, "stderr": None}, [
            f"the probe process could not start: {_error_text(exc)}"]
    outcome = {"returncode": proc.returncode, "stderr": proc.stderr[-4000:] or None}
    problems: list[str] = []
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        problems.append(f"the probe process was killed by {name}")
    elif proc.returncode != 0:
        problems.append(f"the probe process exited with status {proc.returncode}")
    lines = proc.stdout.strip().splitlines()
    try:
        facts = json.loads(lines[-1]) if lines else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict):
        problems.append("the probe process printed no report")
        facts = None
    return facts, outcome, problems


def _judge(facts: dict[str, Any]) -> list[str]:
    """What is wrong according to the probe's facts."""
    problems: list[str] = []
    extension = facts["extension"]
    if not extension["imports"]:
        return [f"magicguard does not import: {extension['error']}"]
    libmagic, database, sample = facts["libmagic"], facts["database"], facts["sample"]
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.realpath(facts["package"]) != os.path.realpath(here):
        problems.append(f"the probe imported magicguard from {facts['package']}, not {here}")
    if libmagic["build"] == "bundled":
        loaded, ext = libmagic["loaded_from"], extension["path"]
        if loaded is None:
            problems.append("the loader cannot say which object provides libmagic")
        elif ext is None or os.path.realpath(loaded) != os.path.realpath(ext):
            problems.append(f"the bundled build's libmagic comes from {loaded}, "
                            f"not from the extension {ext}")
        if "engine_error" in libmagic:
            problems.append(f"the bundled engine cannot describe itself: {libmagic['engine_error']}")
        elif set(libmagic.get("decompressors") or ()) != {"zlib", "bzip2", "xz", "zstd"}:
            problems.append(f"the bundled libmagic lacks built-in decompressors: "
                            f"{libmagic.get('decompressors')}")
        if database["format"] != database["expected_format"]:
            problems.append(f"the bundled database {database['path']} has format "
                            f"{database['format']}, libmagic reads {database['expected_format']}")
    if not database["loads"]:
        problems.append(f"the default database does not load: {database['error']}")
    if not sample["identified"]:
        got = sample["error"] or f"{sample['buffer']!r} / {sample['mime']!r}"
        problems.append(f"the sample PDF was not identified as {SAMPLE_DESCRIPTION!r} / "
                        f"{SAMPLE_MIME!r}: {got}")
    problems.extend(f"the SIGBUS handler is not {key.replace('_', ' ')}"
                    for key in ("installed", "on_top") if facts["sigbus_trap"].get(key) is False)
    if "error" in facts["sigbus_trap"]:
        problems.append(f"the SIGBUS handler cannot be queried: {facts['sigbus_trap']['error']}")
    return problems


def diagnose(timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
    """Probe this installation in a child process; the report ``main`` prints.

    Args:
        timeout: seconds the probe may run before it counts as hung.
    """
    from . import __version__

    facts, outcome, problems = _run_probe(timeout)
    facts = facts or {}
    if facts:
        problems += _judge(facts)
    report: dict[str, Any] = {
        "ok": False,
        "problems": problems,
        "magicguard_version": __version__,
        "libmagic": facts.get("libmagic", {"version": None, "build": None, "loaded_from": None}),
        "extension": facts.get("extension", {"imports": False, "error": None, "path": None}),
        "database": facts.get("database", {"path": None, "search_path": None, "format": None,
                                           "expected_format": None, "loads": False,
                                           "error": None}),
        "sample": facts.get("sample", {"identified": False, "buffer": None, "mime": None,
                                       "file": None, "error": None}),
        "sigbus_trap": facts.get("sigbus_trap", {"installed": _UNKNOWN, "on_top": _UNKNOWN}),
        "probe": outcome,
        "platform": _platform(),
    }
    report["ok"] = not problems
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the doctor's JSON report; 0 when all is well, 1 when not.

    Args:
        argv: options, ``--timeout SECONDS`` (how long the probe may run) at
            most.  None means none, *not* ``sys.argv``, so that the CLI can
            call ``main()`` while its own ``--doctor`` is in ``sys.argv``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m magicguard.doctor",
        description="Check this magicguard installation; print a JSON report.")
    parser.add_argument("--timeout", type=float, default=PROBE_TIMEOUT,
                        help=f"seconds the probe may take (default {PROBE_TIMEOUT:g})")
    args = parser.parse_args([] if argv is None else list(argv))
    if not args.timeout > 0:
        parser.error(f"--timeout must be positive, not {args.timeout}")
    report = diagnose(args.timeout)
    try:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
