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
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ROOT / "boards"
MPY = ROOT / "build" / "mpy" / "iotauth"
SHARED = [ROOT / "firmware" / "app.py", ROOT / "firmware" / "netup.py"]


class ToolError(Exception):
    pass


def board_config(path: Path, tmp: Path) -> tuple[Path, list[Path]]:
    """Checks auth.json with the agent's own rules; returns the file to put on the board
    (its ``ca`` and ``api_ca`` pointing at the flash root, where the CA files go) and the CA
    files."""
    from tools.provision import ToolError as ProvisionError
    from tools.provision import load_json, validate

    try:
        cfg = load_json(path)
        validate(cfg, path.name, path.parent)
    except ProvisionError as e:
        raise ToolError(str(e)) from None
    cas: list[Path] = []
    moved = False
    for field in ("ca", "api_ca"):
        ca = cfg.get(field)
        if not ca:
            continue
        ca_path = Path(ca) if Path(ca).is_absolute() else path.parent / ca
        if ca_path not in cas:
            cas.append(ca_path)
        if Path(ca).name != ca:
            cfg[field] = Path(ca).name  # on the board the CA sits beside auth.json
            moved = True
    if moved:
        path = tmp / "auth.json"
        path.write_text(json.dumps(cfg))
    return path, cas


def plan(
    board: str, config: Path | None, tmp: Path, wifi: Path | None = None
) -> list[tuple[Path, str]]:
    """(local file, remote path) pairs to copy, in order."""
    bdir = BOARDS / board
    if not bdir.is_dir():
        known = ", ".join(sorted(p.name for p in BOARDS.iterdir() if p.is_dir()))
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
    if config is not None:
        on_board, cas = board_config(config, tmp)
        files.append((on_board, ":auth.json"))
        files += [(ca, ":" + ca.name) for ca in cas]
    return files


def deploy(
    port: str, board: str, config: Path | None, mpremote: list[str], wifi: Path | None = None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = plan(board, config, Path(tmp), wifi)
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
    for line in r.stdout.splitlines():
        print(f"deploy: {line}")
    if r.returncode != 0:
        raise ToolError(f"mpremote failed on {port}: {r.stderr.strip().splitlines()[-1:]}")
    print(f"deploy: {len(files)} files on {port} ({board}); reset the board to run main.py")
    if config is None:
        print(
            "deploy: no auth.json given (CONFIG=<path>) and none here: put one on the board "
            "before main.py runs",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="deploy", description=__doc__.splitlines()[0])
    p.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyACM0")
    p.add_argument("--board", required=True, help="esp32 or rpi_pico_w")
    p.add_argument(
        "--config",
        type=Path,
        help="auth.json to put on the board (default: ./auth.json if there is one)",
    )
    p.add_argument("--wifi", type=Path, help="wifi.json for the board (ssid, password, ...)")
    a = p.parse_args(argv)
    mpremote = [str(Path(sys.executable).parent / "mpremote")]
    try:
        if not a.port:
            raise ToolError("PORT is required, e.g. make deploy PORT=/dev/ttyACM0 BOARD=esp32")
        config = a.config
        if config is None and Path("auth.json").is_file():
            config = Path("auth.json")
        elif config is not None and not config.is_file():
            raise ToolError(f"{config}: no such config file (set CONFIG=<path>)")
        deploy(a.port, a.board, config, mpremote, a.wifi)
    except (ToolError, subprocess.TimeoutExpired) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
