"""`make circuitpython`: CircuitPython 10.2.1's unix port, with sockets, in build/circuitpython/.

The unix port's coverage variant, generated under ``build/circuitpython/variant`` with
MicroPython v1.28.0's ``ports/unix/modsocket.c`` beside it (the unix Makefile compiles
``$(VARIANT_DIR)/*.c``) and ``MICROPY_PY_SOCKET=1``: CircuitPython's own VM, with a socket
module that speaks MicroPython's socket API. Also builds CircuitPython's ``mpy-cross``, whose
``.mpy`` files are what a CIRCUITPY drive takes. The source is a clone of
``../shared/vendor/circuitpython-10.2.1.bundle`` where it exists, else of the upstream
repository at the same tag with the submodules the unix port needs. Built once, again only
when its inputs change.

    python -m tools.cpport          # prints the program's and mpy-cross's paths

The port is 64-bit, as PyPI's MicroPython port: its object sizes are twice a board's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import port  # noqa: E402
from tools.port import ToolError, run  # noqa: E402

OUT = ROOT / "build" / "circuitpython"
SRC = OUT / "src"
TAG = "10.2.1"
BUNDLE = ROOT.parent / "shared" / "vendor" / "circuitpython-10.2.1.bundle"
UPSTREAM = "https://github.com/adafruit/circuitpython.git"
SUBMODULES = (
    "extmod/ulab",
    "lib/adafruit_floppy",
    "lib/quirc",
    "lib/mp3",
    "lib/micropython-lib",
    "tools/huffman",
)
PROGRAM = OUT / "build" / "micropython"
MPY_CROSS = SRC / "mpy-cross" / "build" / "mpy-cross"


def source() -> Path:
    """CircuitPython's source at TAG with what its unix port builds from."""
    if (SRC / "ports" / "unix" / "Makefile").is_file():
        return SRC
    OUT.mkdir(parents=True, exist_ok=True)
    if BUNDLE.is_file():  # the bundle holds the submodules' files already
        run(["git", "clone", "-q", str(BUNDLE), str(SRC)])
    else:
        run(["git", "clone", "-q", "--depth", "1", "-b", TAG, UPSTREAM, str(SRC)])
        run(["git", "-C", str(SRC), "submodule", "update", "-q", "--init", "--depth", "1",
             *SUBMODULES])  # fmt: skip
    return SRC


def variant(src: Path, mp: Path) -> Path:
    """The coverage variant with MicroPython's socket module added, under OUT/variant."""
    vdir = OUT / "variant"
    shutil.rmtree(vdir, ignore_errors=True)
    shutil.copytree(src / "ports" / "unix" / "variants" / "coverage", vdir)
    shutil.copy(mp / "ports" / "unix" / "modsocket.c", vdir / "modsocket.c")
    h = vdir / "mpconfigvariant.h"  # it includes its sibling by a path relative to variants/
    common = '"variants/mpconfigvariant_common.h"'
    h.write_text(h.read_text().replace('"../mpconfigvariant_common.h"', common))
    with open(vdir / "mpconfigvariant.mk", "a") as f:
        f.write("\n# iotauth: MicroPython's socket module (modsocket.c, copied here)\n")
        f.write("MICROPY_PY_SOCKET = 1\n")
        f.write("MICROPY_PY_FFI = 0  # no libffi needed on the build machine\n")
    return vdir


def cross() -> Path:
    """CircuitPython's mpy-cross alone (make circuitpy needs no port), built if needed."""
    if not MPY_CROSS.is_file():
        OUT.mkdir(parents=True, exist_ok=True)
        jobs = f"-j{os.cpu_count() or 2}"
        run(["make", "-C", str(source() / "mpy-cross"), jobs], log=OUT / "mpy-cross.log")
    return MPY_CROSS


def ensure() -> tuple[Path, Path]:
    """The port's program and CircuitPython's mpy-cross, built if needed."""
    stamp = OUT / ".inputs"
    digest = hashlib.sha256((TAG + port.TAG + Path(__file__).read_text()).encode()).hexdigest()
    if PROGRAM.is_file() and MPY_CROSS.is_file() and stamp.is_file():
        if stamp.read_text() == digest:
            return PROGRAM, MPY_CROSS
    print(f"circuitpython: building CircuitPython {TAG}'s unix port with sockets", flush=True)
    src = source()
    mp = port.source()  # modsocket.c comes from MicroPython v1.28.0
    jobs = f"-j{os.cpu_count() or 2}"
    MPY_CROSS.unlink(missing_ok=True)
    cross()
    vdir = variant(src, mp)
    shutil.rmtree(OUT / "build", ignore_errors=True)
    make = ["make", "-C", str(src / "ports" / "unix"), jobs, f"VARIANT_DIR={vdir}"]
    run(make + [f"BUILD={OUT / 'build'}"], log=OUT / "build.log")
    stamp.write_text(digest)
    return PROGRAM, MPY_CROSS


def main() -> int:
    try:
        prog, cross = ensure()
    except ToolError as e:
        print(f"circuitpython: {e}", file=sys.stderr)
        return 1
    print(f"circuitpython: {prog}\ncircuitpython: mpy-cross {cross}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
