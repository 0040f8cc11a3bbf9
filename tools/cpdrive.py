"""`make circuitpy DRIVE=/media/$USER/CIRCUITPY [BOARD=cp-pico-w|cp-esp32s3] [CONFIG=auth.json]
[SETTINGS=settings.toml]`: puts the agent on a CircuitPython board's drive.

What lands on the drive, as CircuitPython users lay it out:

- ``lib/iotauth/*.mpy``, compiled by CircuitPython 10.2.1's own ``mpy-cross`` (a MicroPython
  ``.mpy`` does not load there), with stale files of an older copy removed (a left-over
  ``.py`` would be imported before the ``.mpy``);
- ``lib/adafruit_requests.mpy`` and ``lib/adafruit_connection_manager.mpy``, the versions
  requirements.txt pins, as ``circup install adafruit_requests`` would put them;
- ``app.py`` and ``cpnet.py`` (the example application and the Wi-Fi bring-up), and with
  BOARD the board's ``code.py``;
- with CONFIG (or an ``auth.json`` here) the config, checked by the agent's own rules, and
  the CA files it names, beside it at the root;
- with SETTINGS (or a ``settings.toml`` here, as ``tools.provision new --circuitpython``
  writes it) its lines merged into the drive's ``settings.toml``: a key it sets replaces the
  drive's, every other line (Wi-Fi, the web workflow) stays; CA files it names are copied.

A file whose bytes are already on the drive is not written again (each write makes
CircuitPython reload code.py). Files are written under a temporary name and renamed, and the
drive is synced at the end: unplugging after the tool returns loses nothing. No secret is
printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools import cpport, provision  # noqa: E402
from tools.build import MPY_FLAGS, modules, shown  # noqa: E402
from tools.provision import LINE, merge_settings  # noqa: E402

BOARDS = ROOT / "boards"
OUT = ROOT / "build" / "circuitpy"
SHARED = [ROOT / "firmware" / "app.py", ROOT / "firmware" / "cpnet.py"]
LIBS = ("adafruit_requests", "adafruit_connection_manager")
# The settings that name a file (CAs, the device's certificate and key): copied to the root.
FILE_KEYS = tuple("IOTAUTH_" + f.upper() for f in provision.FILES)


class ToolError(Exception):
    pass


def cp_boards() -> list[str]:
    return sorted(p.parent.name for p in BOARDS.glob("*/code.py"))


def compile_all(cross: Path, out: Path = OUT) -> list[tuple[Path, str]]:
    """(compiled file, path on the drive) for the package and the libraries it uses."""
    import adafruit_connection_manager
    import adafruit_requests

    found = {
        m.__name__: Path(m.__file__ or "")
        for m in (adafruit_requests, adafruit_connection_manager)
    }
    jobs = [(src, shown(src), f"lib/iotauth/{src.stem}.mpy") for src in modules()]
    jobs += [(found[name], f"{name}.py", f"lib/{name}.mpy") for name in LIBS]
    files = []
    for src, name, rel in jobs:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(cross), *MPY_FLAGS, "-s", name, "-o", str(target), str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolError(f"CircuitPython's mpy-cross refused {src.name}:\n{r.stderr.strip()}")
        files.append((target, rel))
    return files


def check_drive(drive: str) -> Path:
    if not drive:
        raise ToolError("DRIVE is required: make circuitpy DRIVE=/media/$USER/CIRCUITPY")
    d = Path(drive)
    if not d.is_dir():
        raise ToolError(f"DRIVE {drive}: no such folder (is the board plugged in and mounted?)")
    if not (d / "boot_out.txt").is_file():
        # CircuitPython writes boot_out.txt at every start: without it this is another drive.
        raise ToolError(f"DRIVE {drive} is not a CIRCUITPY drive: it has no boot_out.txt")
    return d


def settings_cas(text: str, base: Path) -> tuple[str, list[Path]]:
    """The files a settings.toml names (CAs, the device's certificate and key), and its text
    with them at the drive's root."""
    cas = []
    lines = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and m.group(1) in FILE_KEYS:
            value = line.split("=", 1)[1].strip()
            if not (value.startswith('"') and value.endswith('"')):
                raise ToolError(f"settings.toml: {m.group(1)} must be a quoted path")
            p = Path(value[1:-1])
            p = p if p.is_absolute() else base / p
            if not p.is_file():
                raise ToolError(f"settings.toml: {m.group(1)} names {p}, which does not exist")
            cas.append(p)
            line = f'{m.group(1)} = "{p.name}"'
        lines.append(line)
    return "\n".join(lines) + "\n", cas


def plan(
    drive: Path, board: str, config: Path | None, settings: Path | None, tmp: Path
) -> list[tuple[bytes, str]]:
    """(bytes, path on the drive) of everything to put there, checked before anything is."""
    files: list[tuple[bytes, str]] = []
    if board:
        code = BOARDS / board / "code.py"
        if "/" in board or not code.is_file():
            raise ToolError(
                f"unknown CircuitPython BOARD {board!r}; known: {', '.join(cp_boards())}"
            )
        files.append((code.read_bytes(), "code.py"))
    files += [(p.read_bytes(), p.name) for p in SHARED]
    if config is not None:
        try:
            on_board, cas = provision.board_config(config, tmp)
        except provision.ToolError as e:
            raise ToolError(str(e)) from None
        files.append((on_board.read_bytes(), "auth.json"))
        files += [(ca.read_bytes(), ca.name) for ca in cas]
    if settings is not None:
        try:
            text = settings.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as e:
            raise ToolError(f"{settings}: cannot read ({e})") from None
        text, cas = settings_cas(text, settings.parent)
        old = drive / "settings.toml"
        merged = merge_settings(old.read_text(encoding="utf-8") if old.is_file() else "", text)
        files.append((merged.encode(), "settings.toml"))
        files += [(ca.read_bytes(), ca.name) for ca in cas]
    built = compile_all(cpport.cross())
    return [(p.read_bytes(), rel) for p, rel in built] + files


def write(drive: Path, files: list[tuple[bytes, str]]) -> int:
    """Writes what differs; removes what an older copy left in lib/iotauth. -> files written."""
    keep = {rel for _, rel in files}
    pkg = drive / "lib" / "iotauth"
    if pkg.is_dir():
        for old in pkg.iterdir():
            if f"lib/iotauth/{old.name}" not in keep:
                old.unlink()
                print(f"circuitpy: removed lib/iotauth/{old.name}")
    n = 0
    for data, rel in files:
        dest = drive / rel
        if dest.is_file() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        with open(part, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if rel in ("settings.toml", "auth.json"):
            os.chmod(part, 0o600)
        os.replace(part, dest)
        n += 1
    os.sync()
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="circuitpy", description=__doc__.splitlines()[0])
    p.add_argument("--drive", default="", help="the mounted CIRCUITPY drive")
    p.add_argument(
        "--board", default="", help="copy this board's code.py: " + ", ".join(cp_boards())
    )
    p.add_argument("--config", type=Path, help="auth.json (default: ./auth.json if present)")
    p.add_argument(
        "--settings", type=Path, help="settings.toml (default: ./settings.toml if present)"
    )
    a = p.parse_args(argv)
    try:
        drive = check_drive(a.drive)
        config = a.config if a.config is not None else _here("auth.json")
        settings = a.settings if a.settings is not None else _here("settings.toml")
        for given in (config, settings):
            if given is not None and not given.is_file():
                raise ToolError(f"{given}: no such file")
        with tempfile.TemporaryDirectory() as tmp:
            files = plan(drive, a.board, config, settings, Path(tmp))
        n = write(drive, files)
    except (ToolError, cpport.ToolError) as e:
        print(f"circuitpy: {e}", file=sys.stderr)
        return 1
    print(f"circuitpy: {n} of {len(files)} files written to {drive} (the rest were unchanged)")
    if config is None and settings is None:
        print("circuitpy: no auth.json or settings.toml given: the board keeps what it has")
    return 0


def _here(name: str) -> Path | None:
    p = Path(name)
    return p if p.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
