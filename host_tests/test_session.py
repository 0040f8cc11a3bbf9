"""load(session=...): token and API requests through an adafruit_requests Session, the real
library from PyPI. On CPython with a real socket pool and ssl.create_default_context() that
verifies the local server against the test CA (CircuitPython's unix port has no ssl); on
CircuitPython's own VM over HTTP, through a socketpool-shaped adapter over its socket module."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_grants import generic, grants

from conftest import write_config
from harness import FIRMWARE, Runner
from tools.tokenserver.server import apply_control


def adafruit_dir() -> Path:
    import adafruit_requests

    return Path(adafruit_requests.__file__).parent


CPYTHON_SESSION = """
import socket, ssl
import adafruit_requests
import iotauth
ctx = ssl.create_default_context(cafile=%(ca)r)
session = adafruit_requests.Session(socket, ctx)
"""

# Through the session: a token, a renewal by refresh token, an API call.
USE = """
a = iotauth.load(session=session)
t1 = a.token()
a.invalidate()
t2 = a.token()
out("changed", t1 != t2)
r = a.request("GET", %(api)r)
out("api", r.status_code)
r.close()
"""


def test_session_over_verified_https_on_cpython(tls_server, certs, flash):
    cfg = generic(tls_server, grant="password", username="user@example.com", password="userpass")
    cfg["token_url"] = tls_server.url("/oauth/token")
    del cfg["insecure_http"]  # no ca either: the session's context verifies
    write_config(flash, cfg)
    res = Runner("cpython", flash).run(
        (CPYTHON_SESSION + USE) % {"ca": str(certs.ca_pem), "api": tls_server.url("/api/resource")}
    )
    assert res == {"changed": True, "api": 200}
    assert grants(tls_server) == [("password", 200), ("refresh_token", 200)]


UNTRUSTED = """
import socket, ssl
import adafruit_requests
import iotauth
session = adafruit_requests.Session(socket, ssl.create_default_context())  # system CAs only
a = iotauth.load(session=session)
try:
    a.token()
except iotauth.TransientError as e:
    out("e", str(e))
"""


def test_session_refuses_a_server_its_context_does_not_trust(tls_server, flash):
    cfg = generic(tls_server)
    cfg["token_url"] = tls_server.url("/oauth/token")
    del cfg["insecure_http"]
    write_config(flash, cfg)
    res = Runner("cpython", flash).run(UNTRUSTED)
    assert res["e"].startswith("TLS error") and "device-1-secret" not in res["e"]
    assert tls_server.state.requests == []


# CircuitPython's VM: adafruit_requests over host_tests/cp_shim/socketpool.py, the shape of a
# board's socketpool over the unix port's socket module.
CP_SHIM = Path(__file__).resolve().parent / "cp_shim"
POOL = """
from socketpool import SocketPool as Pool  # host_tests/cp_shim
"""

ADAPTER = (
    POOL
    + """
import adafruit_requests
import iotauth

session = adafruit_requests.Session(Pool())
"""
)

CP_RUN = ADAPTER + USE

CP_REDIRECT = (
    ADAPTER
    + """
a = iotauth.load(session=session)
try:
    a.token()
except iotauth.TransientError as e:
    out("e", str(e))
"""
)


def cp_session_runner(circuitpython, flash, build):
    mods = circuitpython["mpy"] if build == "mpy" else str(FIRMWARE)
    return Runner(
        "micropython",
        flash,
        binary=circuitpython["program"],
        path=f"{mods}:{adafruit_dir()}:{CP_SHIM}",
    )


@pytest.mark.parametrize("build", ["py", "mpy"])
def test_session_on_circuitpython(build, circuitpython, server, flash):
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    runner = cp_session_runner(circuitpython, flash, build)
    res = runner.run(CP_RUN % {"api": server.url("/api/resource")})
    assert res == {"changed": True, "api": 200}
    assert grants(server) == [("password", 200), ("refresh_token", 200)]
    assert "userpass" not in runner.stdout


def test_session_follows_no_redirect_with_the_secret(circuitpython, server, flash):
    write_config(flash, generic(server))
    apply_control(server.state, {"fault": {"mode": "redirect"}})
    res = cp_session_runner(circuitpython, flash, "py").run(CP_REDIRECT)
    assert res["e"] == "token endpoint redirected (HTTP 302), not followed"
    assert len(server.state.requests) == 1  # asked once, and not re-posted elsewhere


# A board's wifi and ssl, which CircuitPython's unix port lacks (its socketpool: cp_shim's);
# the context records the CA loaded into it.
RADIO = """
import sys


class _Radio:
    connected = True
    ipv4_address = "10.0.0.7"


class _Wifi:
    radio = _Radio()


loaded = []


class _Context:
    def load_verify_locations(self, cadata=None):
        loaded.append(len(cadata))

    def load_cert_chain(self, certfile, keyfile=None):
        loaded.append([certfile, keyfile])


class _Ssl:
    def create_default_context(self):
        return _Context()


sys.modules["wifi"] = _Wifi()
sys.modules["ssl"] = _Ssl()
"""

# No session given, on a board: the agent makes one from wifi.radio, socketpool and
# ssl.create_default_context() with the configured CA loaded (adafruit_requests is real).
BOARD = (
    POOL
    + RADIO
    + """


class _Socketpool:
    def SocketPool(self, radio):
        assert radio is _Wifi.radio
        return Pool()


sys.modules["socketpool"] = _Socketpool()
import iotauth

a = iotauth.load()
out("t", len(a.token()))
out("ca", loaded)
out("via", a._cfg.via)
"""
)


def test_a_board_makes_its_own_session(circuitpython, server, certs, flash):
    cfg = generic(server, ca=str(certs.ca_pem))
    write_config(flash, cfg)
    res = cp_session_runner(circuitpython, flash, "py").run(BOARD)
    assert res["t"] > 0 and res["via"] == "viarequests"
    assert res["ca"] == [certs.ca_pem.stat().st_size]  # the PEM bundle, as text
    assert grants(server) == [("client_credentials", 200)]


def test_a_board_session_presents_the_device_certificate(circuitpython, server, certs, flash):
    # Mutual TLS through the session the agent makes: CircuitPython's context reads the
    # certificate and key files itself.
    from test_mtls import device

    device(flash, certs)
    cfg = generic(server, ca=str(certs.ca_pem), cert="device.crt", key="device.key")
    write_config(flash, cfg)
    res = cp_session_runner(circuitpython, flash, "py").run(BOARD)
    assert res["t"] > 0
    assert res["ca"] == [certs.ca_pem.stat().st_size, ["device.crt", "device.key"]]
