"""A user's path on a virtual board (the unix port on a pty, tools/vboard.py): `make deploy`,
then main.py against the local token server, a reboot, and the token reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT
from presets import config
from tools.vboard import VirtualBoard

MP_SHIM = Path(__file__).resolve().parent / "mp_shim"
MPREMOTE = str(Path(sys.executable).parent / "mpremote")


@pytest.fixture
def board(tmp_path):
    flash = tmp_path / "board-flash"
    flash.mkdir()
    vb = VirtualBoard(flash, [MP_SHIM], run_main=False).start()
    yield vb
    vb.close()


def mpremote(port, *args, timeout=60) -> str:
    r = subprocess.run(
        [MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def make_deploy(port, board_name, cfg_path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run(
        ["make", "-s", "deploy", f"PORT={port}", f"BOARD={board_name}", f"CONFIG={cfg_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_mpremote_against_the_unix_port(board):
    out = mpremote(board.port, "resume", "exec", "import sys; print(sys.implementation.name)")
    assert out.strip() == "micropython"
    (Path(board.flash) / "hello.py").write_text("X = 42\n")
    assert "hello.py" in mpremote(board.port, "resume", "fs", "ls")
    # A soft reset ends the unix port's process: the virtual board boots a new one.
    mpremote(board.port, "soft-reset")
    assert board.boots == 2
    assert mpremote(board.port, "exec", "import hello; print(hello.X)").strip() == "42"


@pytest.mark.parametrize("board_name", ["rpi_pico_w", "esp32"])
def test_deploy_then_run_main_and_reboot(board_name, board, server, tmp_path):
    cfg = config("mydevices-user", server)
    cfg_path = tmp_path / "auth.json"
    cfg_path.write_text(json.dumps(cfg))
    r = make_deploy(board.port, board_name, cfg_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for secret in (cfg["client_secret"], cfg["password"]):
        assert secret not in r.stdout + r.stderr
    flash = Path(board.flash)
    assert sorted(p.name for p in (flash / "iotauth").iterdir()) == sorted(
        p.name.replace(".py", ".mpy") for p in (ROOT / "firmware" / "iotauth").glob("*.py")
    )
    assert {"main.py", "board.py", "app.py", "netup.py", "auth.json"} <= {
        p.name for p in flash.iterdir()
    }
    assert json.loads((flash / "auth.json").read_text()) == cfg
    # Again: nothing changed, so nothing is copied.
    again = make_deploy(board.port, board_name, cfg_path)
    assert again.returncode == 0 and "Up to date" in again.stdout, again.stdout

    (flash / "wifi.json").write_text(
        json.dumps({"ssid": "lab", "password": "wifi-pw", "country": "NL"})
    )
    (flash / "app.json").write_text(
        json.dumps({"api_url": server.url("/api/resource"), "rounds": 1})
    )
    out = mpremote(board.port, "resume", "exec", "import main")
    assert "netup: Wi-Fi up" in out and "main: API answered 200" in out, out
    assert [r["grant"] for r in server.state.requests] == ["password"]
    mpremote(board.port, "soft-reset")  # reboot: the persisted token is reused
    out = mpremote(board.port, "exec", "import main")
    assert "main: API answered 200" in out, out
    assert len(server.state.requests) == 1 and len(server.state.api_calls) == 2


def test_deploy_refuses_bad_input(tmp_path, board):
    bad = tmp_path / "auth.json"
    bad.write_text(json.dumps({"grant": "client_credentials", "client_secret": "s3cr3t-x"}))
    r = make_deploy(board.port, "rpi_pico_w", bad)
    assert r.returncode != 0 and "auth.json: field" in r.stderr and "s3cr3t-x" not in r.stderr
    r = make_deploy(board.port, "nosuchboard", bad)
    assert r.returncode != 0 and "unknown BOARD" in r.stderr
    assert not (Path(board.flash) / "iotauth").exists()


def test_deploy_puts_the_ca_beside_auth_json(board, tls_server, certs, tmp_path):
    cfg = config("devensoft", tls_server, certs)  # ca: an absolute path on the laptop
    cfg["api_ca"] = str(certs.ca_der)  # request()'s CA, copied the same way
    cfg_path = tmp_path / "auth.json"
    cfg_path.write_text(json.dumps(cfg))
    r = make_deploy(board.port, "rpi_pico_w", cfg_path)
    assert r.returncode == 0, r.stdout + r.stderr
    flash = Path(board.flash)
    on_board = json.loads((flash / "auth.json").read_text())
    assert (
        on_board["ca"] == "ca.pem" and (flash / "ca.pem").read_bytes() == certs.ca_pem.read_bytes()
    )
    assert on_board["api_ca"] == "ca.der"
    assert (flash / "ca.der").read_bytes() == certs.ca_der.read_bytes()
    out = mpremote(
        board.port, "resume", "exec", "import iotauth\nprint(len(iotauth.load().token()) > 100)"
    )
    assert out.strip() == "True"  # verified TLS from the board's own files
    assert len(tls_server.state.requests) == 1


def test_deploy_puts_the_device_certificate_and_key_beside_auth_json(board, certs, tmp_path):
    # Mutual TLS: the files named by host paths land at the flash root, named there.
    from test_mtls import device, mtls_config

    from tools.tokenserver.server import State, serve

    srv = serve(State(), certs.server_context(clients=True))
    try:
        srv.base = f"https://localhost:{srv.port}"
        keys = tmp_path / "keys"
        keys.mkdir()
        device(keys, certs)
        cfg_path = tmp_path / "auth.json"
        cfg_path.write_text(json.dumps(mtls_config(srv, certs, keys)))
        r = make_deploy(board.port, "rpi_pico_w", cfg_path)
        assert r.returncode == 0, r.stdout + r.stderr
        flash = Path(board.flash)
        on_board = json.loads((flash / "auth.json").read_text())
        assert (on_board["cert"], on_board["key"]) == ("device.crt", "device.key")
        for f in ("device.crt", "device.key"):
            assert (flash / f).read_bytes() == (keys / f).read_bytes()
        code = "import iotauth\nprint(len(iotauth.load().token()) > 100)"
        assert mpremote(board.port, "resume", "exec", code).strip() == "True"
        assert srv.state.requests[0]["form"]["client_id"] == "device-mtls"
        assert list(srv.state.access.values())[0].x5t is not None  # bound to the board's key
    finally:
        srv.close()


def deploy_cmd(*args, cwd: Path) -> subprocess.CompletedProcess:
    """tools.deploy as `make deploy` runs it, from `cwd` (where ./auth.json and ./wifi.json
    would be looked for)."""
    return subprocess.run(
        [sys.executable, "-m", "tools.deploy", *args],
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_deploy_refuses_a_missing_board_or_config(board, server, tmp_path):
    cfg_path = tmp_path / "auth.json"
    cfg_path.write_text(json.dumps(config("devensoft", server)))
    empty = tmp_path / "empty"
    empty.mkdir()
    r = deploy_cmd("--port", board.port, "--board", "", "--config", str(cfg_path), cwd=empty)
    assert r.returncode != 0 and "BOARD is required, one of: esp32, rpi_pico_w" in r.stderr
    r = deploy_cmd("--port", board.port, "--board", "esp32", cwd=empty)
    assert r.returncode != 0 and "no config: CONFIG=<auth.json> is required" in r.stderr
    assert not any(Path(board.flash).iterdir())  # nothing copied, main.py least of all


def test_deploy_warns_without_wifi_and_names_a_bad_port(board, server, tmp_path):
    cfg_path = tmp_path / "auth.json"
    cfg_path.write_text(json.dumps(config("devensoft", server)))
    here = tmp_path / "here"
    here.mkdir()
    args = ("--board", "esp32", "--config", str(cfg_path))
    r = deploy_cmd("--port", board.port, *args, cwd=here)
    assert r.returncode == 0, r.stderr
    assert "no Wi-Fi settings given (WIFI=<wifi.json>)" in r.stderr
    assert "wifi.json missing" in r.stderr
    again = deploy_cmd("--port", board.port, *args, cwd=here)
    assert "Up to date: main.py" in again.stdout and "cp " not in again.stdout, again.stdout
    r = deploy_cmd("--port", "/dev/ttyNOSUCH9", *args, cwd=here)
    assert r.returncode != 0
    assert "PORT /dev/ttyNOSUCH9 does not exist; serial ports mpremote sees:" in r.stderr
    assert "[" not in r.stderr  # a sentence, not a Python list
    (here / "wifi.json").write_text(json.dumps({"ssid": "lab", "password": "pw"}))
    r = deploy_cmd("--port", board.port, *args, cwd=here)  # ./wifi.json, as ./auth.json
    assert r.returncode == 0 and "Wi-Fi" not in r.stderr, r.stderr
    assert json.loads((Path(board.flash) / "wifi.json").read_text())["ssid"] == "lab"


@pytest.mark.parametrize("board_name", ["rpi_pico_w", "esp32"])
def test_main_keeps_trying_wifi_then_runs(board_name, server, flash):
    # The access point refuses the first connect: main.py says why and tries again instead
    # of dropping to the REPL, then runs the application.
    from harness import micropython_binary

    (flash / "auth.json").write_text(json.dumps(config("mydevices-user", server)))
    (flash / "wifi.json").write_text(
        json.dumps({"ssid": "lab", "password": "pw", "timeout": 1, "retries": 1, "retry_s": 1})
    )
    (flash / "app.json").write_text(
        json.dumps({"api_url": server.url("/api/resource"), "rounds": 1})
    )
    path = ":".join(str(p) for p in (ROOT / "boards" / board_name, ROOT / "firmware", MP_SHIM))
    env = dict(os.environ, MICROPYPATH=path, MP_SHIM_WIFI_REFUSE="1")
    main = ROOT / "boards" / board_name / "main.py"
    r = subprocess.run(
        [micropython_binary(), str(main)], cwd=flash, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "board: network not up: Wi-Fi: no connection to lab - again in 1 s" in r.stdout
    assert "netup: Wi-Fi up" in r.stdout and "main: API answered 200" in r.stdout, r.stdout


def test_main_says_wifi_json_is_missing(flash):
    from harness import micropython_binary

    path = ":".join(str(p) for p in (ROOT / "boards" / "esp32", ROOT / "firmware", MP_SHIM))
    r = subprocess.run(
        [micropython_binary(), "-c", "import board; print(board.up())"], cwd=flash,
        env=dict(os.environ, MICROPYPATH=path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "wifi.json missing: deploy with WIFI=<file>" in r.stdout and "False" in r.stdout, r


APP_REFUSED = """
import iotauth, app
real = iotauth.load
def load():
    a = real()
    def poll():  # what poll() does once per refusal
        raise iotauth.CredentialsError("token endpoint refused (HTTP 400 invalid_grant)")
    a.poll = poll
    return a
iotauth.load = load
app.run()
out("done", True)
"""


def test_app_loop_survives_a_refusal_in_poll(server, flash):
    from harness import Runner

    (flash / "auth.json").write_text(json.dumps(config("mydevices-user", server)))
    (flash / "app.json").write_text(
        json.dumps({"api_url": server.url("/api/resource"), "rounds": 3, "interval": 0})
    )
    runner = Runner("micropython", flash)
    res = runner.run(APP_REFUSED)
    assert res["done"] is True
    assert runner.stdout.count("main: API answered 200") == 3
    assert runner.stdout.count("main: credentials refused") == 2


LOOP_MAIN = """
import time
print("main: started")
while True:
    time.sleep(0.2)
"""


def _read_until(fd, marker: bytes, timeout=20.0) -> bytes:
    import select
    import time

    out = b""
    end = time.monotonic() + timeout
    while marker not in out and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            out += os.read(fd, 4096)
    return out


def test_virtual_board_takes_the_readme_commands(tmp_path):
    # A main.py that never returns, as an application's loop: `mpremote exec` must not hang
    # on it (a soft reset from the raw REPL skips main.py, as on a board), `mpremote reset`
    # must reboot the board (machine.reset from the stand-ins, there without --lib), and
    # Ctrl-C on the console must stop main.py.
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text(LOOP_MAIN)
    vb = VirtualBoard(flash).start()
    try:
        fd = os.open(vb.port, os.O_RDWR | os.O_NOCTTY)
        try:
            assert b"main: started" in _read_until(fd, b"main: started")
            os.write(fd, b"\x03")  # Ctrl-C, as `mpremote repl` sends it
            out = _read_until(fd, b">>> ")
            assert b"KeyboardInterrupt" in out and b">>> " in out, out
        finally:
            os.close(fd)
        assert mpremote(vb.port, "exec", "print(6 * 7)", timeout=30).strip() == "42"
        boots = vb.boots
        mpremote(vb.port, "reset", timeout=30)
        fd = os.open(vb.port, os.O_RDWR | os.O_NOCTTY)
        try:
            assert b"main: started" in _read_until(fd, b"main: started")  # booted afresh
        finally:
            os.close(fd)
        assert vb.boots == boots + 2  # mpremote's soft reset into the raw REPL, then reset()
        assert mpremote(vb.port, "exec", "import machine; print(machine.unique_id())").strip()
    finally:
        vb.close()
