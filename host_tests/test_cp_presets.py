"""Every preset and every grant on CircuitPython's own VM (make circuitpython), from .mpy built
by CircuitPython's mpy-cross, through the agent's own client and through a real
adafruit_requests Session given as session=: the token, the headers, the API call, the wire
format of the token request, reuse after a reset, and no secret in anything printed."""

from __future__ import annotations

import pytest
from test_device import DEVICE, FLOW, device_config
from test_grants import generic, grants
from test_presets import RESTART, _check_wire
from test_presets import USE as PLAIN
from test_session import ADAPTER, cp_session_runner

from conftest import write_config
from presets import PRESET_NAMES, STATIC_TOKENS, config, secrets_of
from tools.tokenserver.server import apply_control

VIAS = ("builtin", "session")


def script(via: str, body: str) -> str:
    """The user's code.py: iotauth.load() as it stands, or given an adafruit_requests Session."""
    if via == "builtin":
        return body
    return ADAPTER + body.replace("iotauth.load()", "iotauth.load(session=session)")


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_preset_on_circuitpython(preset, via, circuitpython, server, flash):
    cfg = config(preset, server)
    write_config(flash, cfg)
    runner = cp_session_runner(circuitpython, flash, "mpy")
    res = runner.run(script(via, PLAIN % server.url("/api/resource")))
    tok = res["token"]
    assert tok and res["headers"] == {"Authorization": "Bearer " + tok}
    assert res["same"] is True and res["api"] == 200
    reqs = server.state.requests
    if preset in STATIC_TOKENS:
        assert tok == STATIC_TOKENS[preset] and reqs == []
    else:
        assert [r["status"] for r in reqs] == [200]
        _check_wire(preset, reqs[0], cfg)
    said = runner.stdout
    again = runner.run(script(via, RESTART))  # a reset: the kept token, no request
    assert again["token"] == tok and len(server.state.requests) == len(reqs)
    for s in secrets_of(cfg):
        assert s == tok or s not in said + runner.stdout


@pytest.mark.parametrize("via", VIAS)
def test_device_grant_on_circuitpython(via, circuitpython, server, flash):
    server.state.device_interval = 1
    server.state.device_script = ["pending", "approve"]
    write_config(flash, device_config(server))
    runner = cp_session_runner(circuitpython, flash, "mpy")
    res = runner.run(script(via, FLOW), timeout=60)
    uri, code, full = res["code"]
    assert uri.endswith("/device") and full.endswith("user_code=" + code)
    assert res["token"].startswith("eyJ") and res["wait"] == [1, 1]  # the code shown, pending
    assert [r["grant"] for r in server.state.requests] == [DEVICE, DEVICE]
    again = runner.run(script(via, RESTART))
    assert again["token"] == res["token"] and len(server.state.requests) == 2


BACKOFF = """
import iotauth
a = iotauth.load()
try:
    a.token()
except iotauth.TransientError as e:
    out("e", [str(e), e.retry_after])
try:
    a.token()
except iotauth.TransientError as e:
    out("held", e.retry_after)
advance(125)
out("t", len(a.token()))
"""


@pytest.mark.parametrize("via", VIAS)
def test_backoff_and_retry_after_on_circuitpython(via, circuitpython, server, flash):
    write_config(flash, generic(server))
    apply_control(server.state, {"fault": {"mode": "503", "retry_after": "120", "count": 1}})
    runner = cp_session_runner(circuitpython, flash, "mpy")
    res = runner.run(script(via, BACKOFF))
    words, wait = res["e"]
    assert "HTTP 503" in words and 115 <= wait <= 121  # at least the server's Retry-After
    assert 0 < res["held"] <= wait  # asked again at once: held, the server not contacted
    assert res["t"] > 0 and grants(server) == [
        ("client_credentials", 503),
        ("client_credentials", 200),
    ]
    assert "device-1-secret" not in runner.stdout
