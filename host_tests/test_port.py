"""The board-faithful port (make port): MicroPython v1.28.0 built 32-bit with mbedtls in the
GC heap, plain and with the agent frozen in, and the agent working on both."""

from __future__ import annotations

import pytest

from conftest import write_config
from harness import Runner

HANDSHAKE = """
import gc, socket, ssl, sys
out("maxsize", sys.maxsize)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=open(%(ca)r, "rb").read())
s = socket.socket()
s.connect(socket.getaddrinfo("localhost", %(port)d)[0][-1])
gc.collect()
m = gc.mem_alloc()
t = ctx.wrap_socket(s, server_hostname="localhost")
gc.collect()
out("tls_heap", gc.mem_alloc() - m)
t.close()
"""


def test_port_is_32_bit_with_tls_in_the_gc_heap(port, tls_server, certs, flash):
    # As on a Pico W: pointers of 4 bytes, and an open TLS connection's mbedtls state in the
    # GC heap (PyPI's port keeps it in malloc's: a few hundred bytes show there).
    res = Runner("micropython", flash, binary=port["unix-board"]).run(
        HANDSHAKE % {"ca": str(certs.ca_der), "port": tls_server.port}
    )
    assert res["maxsize"] == 2**31 - 1
    assert res["tls_heap"] > 16 * 1024, res


AGENT = """
import sys, iotauth
a = iotauth.load()
out("t", len(a.token()))
a.invalidate()
out("t2", len(a.token()))
out("file", sys.modules["iotauth.agent"].__file__)
out("composed", [k for k in ("head", "body", "pre", "post") if getattr(a._cfg, k) is not None])
"""


@pytest.mark.parametrize("variant", ["unix-board", "unix-board-frozen"])
def test_agent_on_the_port_over_verified_https(variant, port, tls_server, certs, flash, mpy_build):
    # Keycloak's dialect (myDevices): the renewal uses the refresh token it issues
    cfg = {
        "preset": "mydevices-admin",
        "realm": "demo",
        "client_id": "md-admin",
        "client_secret": "md-admin-secret",
        "token_url": tls_server.url("/auth/realms/demo/protocol/openid-connect/token"),
        "ca": str(certs.ca_der),
    }
    write_config(flash, cfg)
    runner = Runner("micropython", flash, mpy_build, binary=port[variant])
    # the frozen build finds the package in .frozen first; the plain one loads the .mpy files
    res = runner.run(AGENT, heap="128k", path=None if variant == "unix-board" else "/nonexistent")
    assert res["t"] > 100 and res["t2"] > 100, res
    # frozen: the manifest's path inside the firmware; else the .mpy file it loaded
    frozen = variant == "unix-board-frozen"
    assert res["file"] == "iotauth/agent.py" if frozen else res["file"].endswith("agent.mpy")
    # frozen, grant's code costs no heap: each renewal composes its request, none is kept
    assert res["composed"] == ([] if frozen else ["head", "body", "pre", "post"]), res
    assert len(tls_server.state.requests) == 2
    assert [r["grant"] for r in tls_server.state.requests] == [
        "client_credentials",
        "refresh_token",
    ]
