"""`make deploy PORT=<serial device> BOARD=<esp32|rpi_pico_w> [CONFIG=auth.json]`: copies the
compiled agent (build/mpy), the board's files, the shared application and auth.json to a board
with mpremote. Directories are created as needed and unchanged files are skipped (mpremote
compares hashes); no secret is ever printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ROOT / "boards"
MPY = ROOT / "build" / "mpy" / "iotauth"
SHARED = [ROOT / "firmware" / "app.py", ROOT / "firmware" / "netup.py"]


class ToolError(Exception):
    pass


def check_config(path: Path) -> None:
    """Validates auth.json with the agent's own rules before it goes on the board."""
    from tools.fwimport import firmware_config

    cfg = firmware_config()
    try:
        cfg.load(str(path))
    except cfg.ConfigError as e:
        raise ToolError(str(e)) from None


def plan(board: str, config: Path, wifi: Path | None = None) -> list[tuple[Path, str]]:
    """(local file, remote path) pairs to copy, in order."""
    bdir = BOARDS / board
    if not bdir.is_dir():
        known = ", ".join(sorted(p.name for p in BOARDS.iterdir() if p.is_dir()))
        raise ToolError(f"unknown BOARD {board!r}; known: {known}")
    mpys = sorted(MPY.glob("*.mpy"))
    if not mpys:
        raise ToolError("no .mpy build: run `make mpy` first")
    if not config.is_file():
        raise ToolError(f"{config}: no such config file (set CONFIG=<path>)")
    files = [(p, f":iotauth/{p.name}") for p in mpys]
    files += [(p, f":{p.name}") for p in SHARED]
    files += [(p, f":{p.name}") for p in sorted(bdir.glob("*.py")) if p.name != "manifest.py"]
    files.append((config, ":auth.json"))
    if wifi is not None:
        if not wifi.is_file():
            raise ToolError(f"{wifi}: no such Wi-Fi settings file")
        files.append((wifi, ":wifi.json"))
    ca = json.loads(config.read_text()).get("ca")
    if ca:
        ca_path = (config.parent / ca) if not Path(ca).is_absolute() else Path(ca)
        if not ca_path.is_file():
            raise ToolError(f"{config}: ca file {ca} not found next to it")
        files.append((ca_path, f":{ca}"))
    return files


def deploy(
    port: str, board: str, config: Path, mpremote: list[str], wifi: Path | None = None
) -> None:
    files = plan(board, config, wifi)
    check_config(config)
    # One mpremote session: mkdir (ignoring "exists") then cp, which skips unchanged files.
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
    for line in r.stdout.splitlines():
        print(f"deploy: {line}")
    if r.returncode != 0:
        raise ToolError(f"mpremote failed on {port}: {r.stderr.strip().splitlines()[-1:]}")
    print(f"deploy: {len(files)} files on {port} ({board}); reset the board to run main.py")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="deploy", description=__doc__.splitlines()[0])
    p.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyACM0")
    p.add_argument("--board", required=True, help="esp32 or rpi_pico_w")
    p.add_argument("--config", default="auth.json", type=Path)
    p.add_argument("--wifi", type=Path, help="wifi.json for the board (ssid, password, ...)")
    a = p.parse_args(argv)
    mpremote = [str(Path(sys.executable).parent / "mpremote")]
    try:
        if not a.port:
            raise ToolError("PORT is required, e.g. make deploy PORT=/dev/ttyACM0 BOARD=esp32")
        deploy(a.port, a.board, a.config, mpremote, a.wifi)
    except (ToolError, subprocess.TimeoutExpired) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
