"""The boards' freezing manifests, evaluated by MicroPython's own manifest tool (v1.28.0,
from the vendored source): a frozen firmware must still have ssl, requests and ntptime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT

BUNDLE = ROOT.parent / "shared" / "vendor" / "micropython-1.28.0.bundle"

# What upstream v1.28.0 freezes for each board (ports/rp2/boards/RPI_PICO_W/manifest.py,
# ports/esp32/boards/manifest.py), cut to the lines that matter here; the port manifest of
# rp2 (ports/rp2/boards/manifest.py) brings no networking.
UPSTREAM = {
    "rpi_pico_w": {
        "port": "",
        "board": 'include("$(PORT_DIR)/boards/manifest.py")\nrequire("bundle-networking")\n',
    },
    "esp32": {"port": 'require("bundle-networking")\n', "board": ""},
}


@pytest.fixture(scope="module")
def mpsrc(tmp_path_factory) -> Path:
    if not BUNDLE.exists():
        raise AssertionError(f"{BUNDLE} is missing: it holds MicroPython's manifest tool")
    d = tmp_path_factory.mktemp("mp") / "micropython"
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(d)], check=True)
    subprocess.run(
        ["git", "-C", str(d), "submodule", "update", "-q", "--init", "lib/micropython-lib"],
        check=True,
    )
    return d


@pytest.mark.parametrize("board", sorted(UPSTREAM))
def test_frozen_firmware_keeps_the_networking_bundle(board, mpsrc, tmp_path):
    port = tmp_path / "port"
    (port / "boards").mkdir(parents=True)
    (port / "boards" / "manifest.py").write_text(UPSTREAM[board]["port"])
    bdir = tmp_path / "board"
    bdir.mkdir()
    (bdir / "manifest.py").write_text(UPSTREAM[board]["board"])
    sys.path.insert(0, str(mpsrc / "tools"))
    try:
        import manifestfile
    finally:
        sys.path.pop(0)
    m = manifestfile.ManifestFile(
        manifestfile.MODE_FREEZE,
        {
            "MPY_DIR": str(mpsrc),
            "MPY_LIB_DIR": str(mpsrc / "lib" / "micropython-lib"),
            "PORT_DIR": str(port),
            "BOARD_DIR": str(bdir),
        },
    )
    m.execute(str(ROOT / "boards" / board / "manifest.py"))
    frozen = {f.target_path for f in m.files()}
    for need in ("ssl.py", "requests/__init__.py", "ntptime.py", "iotauth/agent.py", "netup.py"):
        assert need in frozen, f"{board}: {need} not frozen"
