"""Build CPython 3.13 from Debian's source package, free-threaded or with the GIL, into a cache.

``python3 tools/python_build.py [--free-threaded]`` prints the path of the
interpreter on stdout (progress goes to stderr) and reuses a build already in
``~/.cache/iomodels/python/<version>[t]``. Otherwise it fetches the upstream
tarball with apt: a temporary deb-src list for the Debian suite carrying
``python3.13`` (:data:`SUITE`), built from the URIs of this machine's own apt
sources, then ``apt-get source --download-only``; then ``configure``
(``--disable-gil`` for the free-threaded build), ``make -j2``, ``make install``.
The two builds come from the same tarball, so they differ only in the GIL.
Anything missing (apt, a compiler, headers): one line saying what to install, exit 2.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

#: The Debian suite whose archive carries the source package (Debian 13 ships python3.13).
SUITE = "trixie"
PACKAGE = "python3.13"
CACHE = Path(os.environ.get("IOMODELS_PYTHON_CACHE", Path.home() / ".cache/iomodels/python"))
#: Header files the build needs, and the Debian package that has each.
HEADERS = {
    "zlib.h": "zlib1g-dev",
    "ffi.h": "libffi-dev",
    "openssl/ssl.h": "libssl-dev",
}
_TARBALL = re.compile(rf"{re.escape(PACKAGE)}_(3\.13\.\d+)\.orig\.tar\.xz$")


class BuildError(Exception):
    """Why the interpreter cannot be built here (one line, naming what to install)."""


def installed(root: Path, free_threaded: bool) -> Path | None:
    """The newest cached interpreter of that kind that runs, or None."""
    suffix = "t" if free_threaded else ""
    found = []
    for prefix in root.glob("3.13.*"):
        match = re.fullmatch(rf"3\.13\.(\d+){suffix}", prefix.name)
        python = prefix / "bin" / ("python3.13t" if free_threaded else "python3.13")
        if match and _runs(python, free_threaded):
            found.append((int(match.group(1)), python))
    return max(found)[1] if found else None


def _runs(python: Path, free_threaded: bool) -> bool:
    probe = "import sys; sys.exit(getattr(sys, '_is_gil_enabled', lambda: True)())"
    try:
        result = subprocess.run([python, "-c", probe], capture_output=True, timeout=30)
    except OSError:
        return False
    return (result.returncode == 0) == free_threaded


def check_tools() -> None:
    """Raise :class:`BuildError` naming what to install when a build tool or header is missing."""
    missing = [tool for tool in ("apt-get", "make") if shutil.which(tool) is None]
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        missing.append("a C compiler")
    if missing:
        raise BuildError(f"needs {', '.join(missing)}: apt-get install build-essential")
    include_dirs = [Path("/usr/include"), *Path("/usr/include").glob("*-linux-gnu*")]
    packages = [
        package
        for header, package in HEADERS.items()
        if not any((d / header).exists() for d in include_dirs)
    ]
    if packages:
        raise BuildError(f"missing headers: apt-get install {' '.join(packages)}")


def archive_uris(sources: Path = Path("/etc/apt")) -> list[str]:
    """The Debian archive URIs this machine's apt already uses (none of security or others)."""
    texts = [p.read_text() for p in [sources / "sources.list"] if p.exists()]
    texts += [p.read_text() for p in sorted((sources / "sources.list.d").glob("*"))]
    uris = []
    for text in texts:
        uris += re.findall(r"^URIs:\s*(\S+)", text, re.M)
        uris += re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M)
    return list(
        dict.fromkeys(uri.rstrip("/") for uri in uris if uri.rstrip("/").endswith("/debian"))
    )


def fetch_tarball(src: Path) -> Path:
    """The upstream tarball in ``src``, downloaded with apt from :data:`SUITE` if absent."""
    cached = sorted(p for p in src.glob(f"{PACKAGE}_*.orig.tar.xz") if _TARBALL.search(p.name))
    if cached:
        return cached[-1]
    uris = archive_uris()
    if not uris:
        raise BuildError("no Debian archive among this machine's apt sources (/etc/apt)")
    src.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="iomodels-apt-") as tmp:
        state = Path(tmp)
        (state / "lists/partial").mkdir(parents=True)
        (state / "cache/archives/partial").mkdir(parents=True)
        sources = state / "sources.list"
        sources.write_text(
            "".join(
                f"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {uri} {SUITE} main\n"
                for uri in uris
            )
        )
        options = [
            f"-oDir::Etc::SourceList={sources}",
            "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={state / 'lists'}",
            f"-oDir::Cache={state / 'cache'}",
            "-oDebug::NoLocking=1",
        ]
        _run(["apt-get", *options, "update"], state)
        _run(["apt-get", *options, "source", "--download-only", PACKAGE], src)
    for leftover in src.iterdir():
        if not _TARBALL.search(leftover.name):
            leftover.unlink()  # the .dsc and the Debian patches: only the upstream tarball is built
    cached = sorted(src.glob(f"{PACKAGE}_*.orig.tar.xz"))
    if not cached:
        raise BuildError(f"apt-get source {PACKAGE} gave no upstream tarball")
    return cached[-1]


def build(tarball: Path, root: Path, free_threaded: bool) -> Path:
    """Configure, compile and install ``tarball`` into ``root/<version>[t]``; the python path."""
    match = _TARBALL.search(tarball.name)
    assert match is not None
    name = match.group(1) + ("t" if free_threaded else "")
    prefix = root / name
    log = root / f"build-{name}.log"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iomodels-cpython-") as tmp:
        with tarfile.open(tarball) as archive:
            archive.extractall(tmp, filter="data")
        (source,) = Path(tmp).iterdir()
        configure = ["./configure", f"--prefix={prefix}", "--with-ensurepip=install"]
        if free_threaded:
            configure.append("--disable-gil")
        print(f"building {name} (about 3 min; log: {log})", file=sys.stderr)
        with log.open("w") as out:
            for step in (configure, ["make", "-j2"], ["make", "install"]):
                if subprocess.run(
                    step, cwd=source, stdout=out, stderr=subprocess.STDOUT
                ).returncode:
                    raise BuildError(f"{' '.join(step[:2])} failed: see {log}")
    print(f"built {name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    python = prefix / "bin" / ("python3.13t" if free_threaded else "python3.13")
    if not _runs(python, free_threaded):
        raise BuildError(f"{python} was built but does not run as expected: see {log}")
    return python


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BuildError(f"{' '.join(command[:1] + command[-2:])} failed: {last}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--free-threaded", action="store_true", help="configure with --disable-gil (3.13t)"
    )
    args = parser.parse_args(argv)
    try:
        python = installed(CACHE, args.free_threaded)
        if python is None:
            check_tools()
            python = build(fetch_tarball(CACHE / "src"), CACHE, args.free_threaded)
    except BuildError as exc:
        print(f"python_build: {exc}", file=sys.stderr)
        return 2
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
