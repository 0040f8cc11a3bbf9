"""`make port`: builds the board-faithful MicroPython unix port from source, into build/port/.

MicroPython v1.28.0 (the release the boards run), the unix port as the project's own variants
(``boards/unix-board``: 32-bit with ``i686-linux-gnu-gcc``, mbedtls allocating from the GC
heap as on rp2, ``requests`` frozen as on the boards; ``boards/unix-board-frozen``: the same
with the agent frozen in). The source is a clone of ``../shared/vendor/micropython-1.28.0.bundle``
where it exists, else of the upstream repository at the same tag. Each variant is built again
only when its inputs changed.

    python -m tools.port            # prints the two programs' paths

Each program is a small script, ``build/port/<variant>/micropython``, that runs the 32-bit
binary through the cross toolchain's loader, so no 32-bit libc needs installing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "port"
SRC = OUT / "micropython"
TAG = "v1.28.0"
BUNDLE = ROOT.parent / "shared" / "vendor" / "micropython-1.28.0.bundle"
UPSTREAM = "https://github.com/micropython/micropython.git"
SUBMODULES = ("lib/mbedtls", "lib/micropython-lib")
CROSS = "i686-linux-gnu-"
VARIANTS = ("unix-board", "unix-board-frozen")


class ToolError(Exception):
    pass


def run(cmd: list[str], cwd: Path | None = None, log: Path | None = None) -> None:
    """Runs cmd; on failure raises ToolError with the tail of its output."""
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if log is not None:
        log.write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
        raise ToolError(f"{' '.join(cmd[:3])} ... failed:\n{tail}")


def source() -> Path:
    """The MicroPython source at TAG with the submodules the unix port builds from."""
    if (SRC / "ports" / "unix" / "Makefile").is_file():
        return SRC
    OUT.mkdir(parents=True, exist_ok=True)
    if BUNDLE.is_file():
        run(["git", "clone", "-q", str(BUNDLE), str(SRC)])
        run(["git", "-C", str(SRC), "submodule", "update", "-q", "--init", *SUBMODULES])
    else:
        run(["git", "clone", "-q", "--depth", "1", "-b", TAG, UPSTREAM, str(SRC)])
        run(["git", "-C", str(SRC), "submodule", "update", "-q", "--init", "--depth", "1",
             *SUBMODULES])  # fmt: skip
    return SRC


def cross_compiler() -> str:
    """i686-linux-gnu-gcc, installed from Debian when missing and this is root (as in CI)."""
    gcc = CROSS + "gcc"
    if shutil.which(gcc):
        return gcc
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ToolError(f"{gcc} is missing: install Debian's gcc-i686-linux-gnu (as root)")
    print("port: installing gcc-i686-linux-gnu from Debian", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "gcc-i686-linux-gnu"]
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        run(["apt-get", "update", "-q"])  # a fresh machine has no package lists yet
        run(install)
    if not shutil.which(gcc):
        raise ToolError(f"{gcc} still missing after apt-get install gcc-i686-linux-gnu")
    return gcc


def inputs(variant: str) -> str:
    """A digest of what a variant's build depends on in this repository."""
    h = hashlib.sha256(TAG.encode())
    files = sorted((ROOT / "boards" / "unix-board").iterdir())
    if variant == "unix-board-frozen":
        files += sorted((ROOT / "boards" / variant).iterdir())
        files += [ROOT / "firmware" / "manifest.py"]
        files += sorted((ROOT / "firmware" / "frozen" / "iotauth").glob("*.py"))
        files += sorted((ROOT / "firmware" / "iotauth").glob("*.py"))
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def build(variant: str, src: Path) -> Path:
    """Builds one variant (unless its inputs are unchanged); returns its program."""
    out = OUT / variant
    prog = out / "micropython"
    stamp = out / ".inputs"
    digest = inputs(variant)
    if prog.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return prog
    print(f"port: building {variant} (MicroPython {TAG}, 32-bit)", flush=True)
    shutil.rmtree(out / "build", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    jobs = f"-j{os.cpu_count() or 2}"
    vdir = ROOT / "boards" / variant
    make = ["make", "-C", str(src / "ports" / "unix"), jobs, f"VARIANT_DIR={vdir}"]
    run(make + [f"BUILD={out / 'build'}", f"CROSS_COMPILE={CROSS}"], log=out / "build.log")
    loader = subprocess.run(
        [CROSS + "gcc", "-print-file-name=ld-linux.so.2"], capture_output=True, text=True
    ).stdout.strip()
    binary = out / "build" / "micropython"
    prog.write_text(
        "#!/bin/sh\n# The board-faithful port, run through the cross toolchain's loader.\n"
        f'exec "{loader}" --library-path "{Path(loader).parent}" "{binary}" "$@"\n'
    )
    prog.chmod(0o755)
    stamp.write_text(digest)
    return prog


def ensure() -> dict[str, Path]:
    """Both variants, built if needed: {variant: program}."""
    cross_compiler()
    src = source()
    if not (src / "mpy-cross" / "build" / "mpy-cross").is_file():
        run(["make", "-C", str(src / "mpy-cross"), f"-j{os.cpu_count() or 2}"])
    return {v: build(v, src) for v in VARIANTS}


def main() -> int:
    try:
        for variant, prog in ensure().items():
            print(f"port: {variant}: {prog}")
    except ToolError as e:
        print(f"port: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
