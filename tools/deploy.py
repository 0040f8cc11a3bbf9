"""`make deploy PORT=<serial device> BOARD=<esp32|rpi_pico_w> [CONFIG=auth.json]
[WIFI=wifi.json]`: copies the compiled agent (build/mpy), the board's files, the shared
application, auth.json and wifi.json to a board with mpremote. A missing BOARD or config is
refused; missing Wi-Fi settings are warned about. Directories are created as needed and
unchanged files are skipped (mpremote compares hashes); no secret is ever printed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ROOT / "boards"
MPY = ROOT / "build" / "mpy" / "iotauth"
SHARED = [ROOT / "firmware" / "app.py", ROOT / "firmware" / "netup.py"]


class ToolError(Exception):
    pass


def _provision():
    # tools.provision owns config checking; imported when needed (it loads the firmware's).
    from tools import provision

    return provision


def plan(board: str, config: Path, tmp: Path, wifi: Path | None = None) -> list[tuple[Path, str]]:
    """(local file, remote path) pairs to copy, in order."""
    # MicroPython boards have a main.py; CircuitPython's (code.py) go by `make circuitpy`.
    known = ", ".join(sorted(p.parent.name for p in BOARDS.glob("*/main.py")))
    if not board:
        raise ToolError(f"BOARD is required, one of: {known} (make deploy PORT=... BOARD=...)")
    bdir = BOARDS / board
    if "/" in board or not (bdir / "main.py").is_file():
        if (bdir / "code.py").is_file():
            raise ToolError(
                f"BOARD {board} runs CircuitPython: make circuitpy DRIVE=... BOARD={board}"
            )
        raise ToolError(f"unknown BOARD {board!r}; known: {known}")
    mpys = sorted(MPY.glob("*.mpy"))
    if not mpys:
        raise ToolError("no .mpy build: run `make mpy` first")
    files = [(p, f":iotauth/{p.name}") for p in mpys]
    files += [(p, f":{p.name}") for p in SHARED]
    files += [(p, f":{p.name}") for p in sorted(bdir.glob("*.py")) if p.name != "manifest.py"]
    if wifi is not None:
        if not wifi.is_file():
            raise ToolError(f"{wifi}: no such Wi-Fi settings file")
        files.append((wifi, ":wifi.json"))
    pv = _provision()
    try:
        on_board, cas = pv.board_config(config, tmp)
    except pv.ToolError as e:
        raise ToolError(str(e)) from None
    files.append((on_board, ":auth.json"))
    files += [(ca, ":" + ca.name) for ca in cas]
    return files


def check_port(port: str, mpremote: list[str]) -> None:
    """A device path that does not exist is named as such, with the boards mpremote sees."""
    if not port.startswith("/") or Path(port).exists():
        return  # a path that is there, or an mpremote shortcut (a0, u0, id:...)
    r = subprocess.run(mpremote + ["devs"], capture_output=True, text=True, timeout=60)
    devs = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    seen = ", ".join(devs) if devs else "none (is the board plugged in?)"
    raise ToolError(f"PORT {port} does not exist; serial ports mpremote sees: {seen}")


def report(out: str) -> list[str]:
    """mpremote's lines, without the "cp X" of a file it then finds "Up to date"."""
    lines = out.splitlines()
    return [
        line
        for i, line in enumerate(lines)
        if not (
            line.startswith("cp ") and i + 1 < len(lines) and lines[i + 1].startswith("Up to date")
        )
    ]


def deploy(
    port: str, board: str, config: Path, mpremote: list[str], wifi: Path | None = None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = plan(board, config, Path(tmp), wifi)
        check_port(port, mpremote)
        # One mpremote session: mkdir (ignoring "exists"), then cp, which skips unchanged
        # files (it compares hashes with the board's).
        cmd = mpremote + [
            "connect",
            port,
            "resume",
            "exec",
            "import os\ntry:\n os.mkdir('iotauth')\nexcept OSError:\n pass",
        ]
        for local, remote in files:
            cmd += ["+", "cp", str(local), remote]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    for line in report(r.stdout):
        print(f"deploy: {line}")
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise ToolError(f"mpremote failed on {port}: {last}")
    print(f"deploy: {len(files)} files on {port} ({board}); reset the board to run main.py")
    if wifi is None:
        print(
            "deploy: warning: no Wi-Fi settings given (WIFI=<wifi.json>) and no ./wifi.json: "
            "unless the board has one already, it will keep saying 'wifi.json missing'",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="deploy", description=__doc__.splitlines()[0])
    p.add_argument("--port", default="", help="serial device, e.g. /dev/ttyACM0")
    p.add_argument("--board", default="", help="esp32 or rpi_pico_w")
    p.add_argument(
        "--config",
        type=Path,
        help="auth.json to put on the board (default: ./auth.json)",
    )
    p.add_argument("--wifi", type=Path, help="wifi.json for the board (default: ./wifi.json)")
    a = p.parse_args(argv)
    mpremote = [str(Path(sys.executable).parent / "mpremote")]
    try:
        if not a.port:
            raise ToolError("PORT is required, e.g. make deploy PORT=/dev/ttyACM0 BOARD=esp32")
        config = a.config
        if config is None:
            if not Path("auth.json").is_file():
                raise ToolError(
                    "no config: CONFIG=<auth.json> is required (or an auth.json here); "
                    "make one with `python -m tools.provision new PRESET`"
                )
            config = Path("auth.json")
        elif not config.is_file():
            raise ToolError(f"{config}: no such config file (set CONFIG=<path>)")
        wifi = a.wifi
        if wifi is None and Path("wifi.json").is_file():
            wifi = Path("wifi.json")
        deploy(a.port, a.board, config, mpremote, wifi)
    except (ToolError, subprocess.TimeoutExpired) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
