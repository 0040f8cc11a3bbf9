"""A CIRCUITPY drive as a user makes it: `tools.provision new --circuitpython` writes
settings.toml, `make circuitpy` (tools/cpdrive.py) fills the drive, and CircuitPython's own VM
boots from it. The drive's files are copied into a FAT file system that is mounted at "/", as
a board's flash is, so os.getenv reads settings.toml through CircuitPython's own parser and
code.py imports the agent from lib/iotauth/*.mpy built by CircuitPython's mpy-cross. Wi-Fi,
the socket pool, the SSL context, storage (read-only, as CIRCUITPY is to code) and
microcontroller.nvm are stand-ins; adafruit_requests is the real one, from the drive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_session import CP_SHIM, POOL, RADIO

from harness import ROOT, Runner
from tools import cpdrive, provision

# Before the user's code: the drive's files into a FAT RAM disk mounted at "/", the host's
# file system moved to /host, and the board's modules that the unix port lacks.
BOOT = (
    POOL
    + """
import os, sys


class _Disk:  # a block device in RAM: the board's flash
    def __init__(self, blocks):
        self.b = bytearray(blocks * 512)

    def readblocks(self, n, buf, off=0):
        buf[:] = self.b[n * 512 + off : n * 512 + off + len(buf)]

    def writeblocks(self, n, buf, off=0):
        self.b[n * 512 + off : n * 512 + off + len(buf)] = buf

    def ioctl(self, op, arg):
        return len(self.b) // 512 if op == 4 else 512 if op == 5 else 0


def _copy(src, dst):
    for name, kind, *_ in os.ilistdir(src):
        if kind == 0x4000:
            os.mkdir(dst + "/" + name)
            _copy(src + "/" + name, dst + "/" + name)
        else:
            with open(src + "/" + name, "rb") as f, open(dst + "/" + name, "wb") as g:
                g.write(f.read())

"""
)

MOUNT = """
_dev = _Disk(512)  # 256 KB
os.VfsFat.mkfs(_dev)
_fat = os.VfsFat(_dev)
os.mount(_fat, "/drive")
_copy(os.getcwd(), "/drive")
os.umount("/drive")
os.umount("/")
os.mount(_fat, "/")
os.chdir("/")
sys.path[:] = ["/", "/lib"]
"""

BOARD = (
    RADIO
    + """

class _Mount:
    readonly = True  # CIRCUITPY as code sees it without a boot.py remount


class _Storage:
    def getmount(self, path):
        return _Mount()


class _Microcontroller:
    nvm = bytearray(%(nvm)d)


sys.modules["storage"] = _Storage()
sys.modules["microcontroller"] = _Microcontroller()
import code  # the board runs code.py

out("ca", loaded)
out("root", sorted(os.listdir("/")))
out("nvm", bytes(_Microcontroller.nvm).count(b"\\x00") < %(nvm)d)
"""
)

NVM = {"cp-pico-w": 4096, "cp-esp32s3": 8192}


@pytest.fixture
def drive(tmp_path):
    d = tmp_path / "CIRCUITPY"
    d.mkdir()
    (d / "boot_out.txt").write_text("Adafruit CircuitPython 10.2.1 on 2026-01-01; board\n")
    # A line of the user's own, kept by make circuitpy. A short timeout made the boot test
    # fail once on a slow machine (its first token request timed out, and the app's two
    # rounds had no room for the retry).
    (d / "settings.toml").write_text('CIRCUITPY_WIFI_SSID = "home"\nIOTAUTH_TIMEOUT = 9\n')
    return d


def provisioned(tmp_path, server, monkeypatch, *extra) -> Path:
    out = tmp_path / "settings.toml"
    monkeypatch.setenv("IOTAUTH_CLIENT_SECRET", "dv-secret")
    argv = ["new", "devensoft", "--circuitpython", "--out", str(out), "--client-id", "dv-client"]
    argv += ["--token-url", server.url("/token"), *extra]
    assert provision.main(argv) == 0
    monkeypatch.delenv("IOTAUTH_CLIENT_SECRET")  # the board has settings.toml, no environment
    return out


@pytest.mark.parametrize("board", ["cp-pico-w", "cp-esp32s3"])
def test_a_drive_made_by_the_tools_boots_on_circuitpython(
    board, circuitpython, server, drive, tmp_path, monkeypatch, capsys
):
    settings = provisioned(tmp_path, server, monkeypatch, "--set", "insecure_http=true")
    text = settings.read_text()
    assert (
        'IOTAUTH_INSECURE_HTTP = "true"' in text and 'IOTAUTH_CLIENT_SECRET = "dv-secret"' in text
    )
    assert settings.stat().st_mode & 0o077 == 0
    args = ["--drive", str(drive), "--board", board, "--settings", str(settings)]
    assert cpdrive.main(args) == 0
    assert cpdrive.main(args) == 0  # again: nothing differs, nothing written
    said = capsys.readouterr().out
    # The package, adafruit_requests and its connection manager, app.py, cpnet.py, code.py and
    # settings.toml: the second time, all there already.
    n = len(list((ROOT / "firmware" / "iotauth").glob("*.py"))) + 6
    assert f"0 of {n} files written" in said and "dv-secret" not in said
    merged = (drive / "settings.toml").read_text()
    assert merged.startswith('CIRCUITPY_WIFI_SSID = "home"\nIOTAUTH_TIMEOUT = 9\n')  # kept
    # Three rounds a few seconds apart: a first request that fails on a loaded machine (seen
    # once in a fresh clone's full run, its words cut off in the report) is retried after
    # its back-off as a board would, and two calls still reach the API.
    (drive / "app.json").write_text(
        json.dumps({"api_url": server.url("/api/resource"), "rounds": 3, "interval": 5})
    )
    runner = Runner("micropython", drive, binary=circuitpython["program"], path=str(CP_SHIM))
    res = runner.run(BOOT + MOUNT + BOARD % {"nvm": NVM[board]}, timeout=120)
    log = runner.stdout
    assert log.count("main: API answered 200") >= 2, log  # the device's own words if not
    assert "credentials refused" not in log and "API unreachable" not in log, log
    grants = [r["grant"] for r in server.state.requests]
    assert grants and set(grants) == {"client_credentials"}, grants
    assert server.state.requests[-1]["form"]["client_secret"] == "dv-secret"  # settings.toml
    assert res["nvm"] and not any(n.startswith("auth.state") for n in res["root"])
    assert "dv-secret" not in log


def test_the_drive_tool_refuses_what_is_not_a_circuitpy_drive(tmp_path, capsys):
    assert cpdrive.main(["--drive", str(tmp_path / "none")]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert cpdrive.main(["--drive", str(tmp_path)]) == 1
    assert "not a CIRCUITPY drive: it has no boot_out.txt" in capsys.readouterr().err
    assert cpdrive.main([]) == 1
    assert "DRIVE is required" in capsys.readouterr().err


def test_the_drive_tool_refuses_a_micropython_board_and_a_bad_config(drive, tmp_path, capsys):
    assert cpdrive.main(["--drive", str(drive), "--board", "rpi_pico_w"]) == 1
    assert (
        "unknown CircuitPython BOARD 'rpi_pico_w'; known: cp-esp32s3, cp-pico-w"
        in capsys.readouterr().err
    )
    bad = tmp_path / "auth.json"
    bad.write_text('{"preset": "devensoft", "client_secret": "zz-secret-9"}')
    assert cpdrive.main(["--drive", str(drive), "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "auth.json: field" in err and "zz-secret-9" not in err
    assert not (drive / "lib").exists()  # checked before anything is written


def test_an_older_copy_leaves_no_stale_module(drive, capsys):
    stale = drive / "lib" / "iotauth" / "renew.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("raise ImportError")
    assert cpdrive.main(["--drive", str(drive)]) == 0
    assert not stale.exists() and (drive / "lib" / "iotauth" / "agent.mpy").is_file()
    assert "removed lib/iotauth/renew.py" in capsys.readouterr().out


GETENV = """
for k in %r:
    out(k, os.getenv(k))
"""


def test_settings_written_by_provision_read_back_by_circuitpython(circuitpython, tmp_path):
    # CircuitPython's own settings.toml parser reads every character back (quotes,
    # backslashes, control characters, non-ASCII), integers, and the booleans as strings.
    flash = tmp_path / "CIRCUITPY"
    flash.mkdir()
    (flash / "settings.toml").write_text('CIRCUITPY_WIFI_SSID = "home"\n')
    odd = 'a"b\\c\nd\te\x01f-é-€'
    cfg = {"client_secret": odd, "timeout": 7, "insecure_http": True, "insecure_tls": False}
    provision.write_settings(cfg, flash / "settings.toml")
    keys = ["CIRCUITPY_WIFI_SSID"] + ["IOTAUTH_" + k.upper() for k in cfg]
    runner = Runner("micropython", flash, binary=circuitpython["program"], path=str(CP_SHIM))
    res = runner.run(BOOT + MOUNT + GETENV % keys)
    assert res == {
        "CIRCUITPY_WIFI_SSID": "home",
        "IOTAUTH_CLIENT_SECRET": odd,
        "IOTAUTH_TIMEOUT": "7",
        "IOTAUTH_INSECURE_HTTP": "true",
        "IOTAUTH_INSECURE_TLS": "false",
    }


def test_make_deploy_sends_a_circuitpython_board_to_make_circuitpy(tmp_path):
    from tools import deploy

    with pytest.raises(
        deploy.ToolError, match="BOARD cp-pico-w runs CircuitPython: make circuitpy"
    ):
        deploy.plan("cp-pico-w", tmp_path / "auth.json", tmp_path)
    with pytest.raises(deploy.ToolError, match=r"known: esp32, rpi_pico_w$"):
        deploy.plan("cp-nope", tmp_path / "auth.json", tmp_path)
