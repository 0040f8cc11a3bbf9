"""Every preset, end to end, on both runtimes, over HTTP and verified HTTPS: the token, the
headers, the API call, the wire format of the token request, and reuse after a restart."""

from __future__ import annotations

import json

import pytest

from conftest import write_config
from presets import AUDIENCE, PRESET_NAMES, STATIC_TOKENS, config, secrets_of

USE = """
import iotauth
a = iotauth.load()
out("token", a.token())
h = a.headers()
out("headers", h)
out("same", h is a.headers() and h is a.headers())
r = a.request("GET", %r)
out("api", r.status_code)
r.close()
"""

RESTART = """
import iotauth
a = iotauth.load()
out("token", a.token())
"""


@pytest.fixture(params=["http", "https"])
def any_server(request, server, tls_server):
    return server if request.param == "http" else tls_server


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_preset(preset, runner, any_server, certs, flash):
    srv = any_server
    cfg = config(preset, srv, certs)
    write_config(flash, cfg)
    res = runner.run(USE % srv.url("/api/resource"))
    tok = res["token"]
    assert tok and res["headers"] == {"Authorization": "Bearer " + tok}
    assert res["same"] is True
    assert res["api"] == 200
    reqs = srv.state.requests
    if preset in STATIC_TOKENS:
        assert tok == STATIC_TOKENS[preset] and reqs == []
        assert not any(p.name.startswith("auth.state") for p in flash.iterdir())
    else:
        assert [r["status"] for r in reqs] == [200]
        _check_wire(preset, reqs[0], cfg)
    # A restart reuses the persisted token without asking the server.
    again = runner.run(RESTART)
    assert again["token"] == tok
    assert len(srv.state.requests) == len(reqs)
    for s in secrets_of(cfg):
        assert s not in runner.stdout or s == tok


def _check_wire(preset, req, cfg):
    if preset == "modulariot":
        assert req["content_type"] == "application/json"
        body = json.loads(req["body"])
        assert body == {
            "grant_type": "client_credentials",
            "client_id": "mi-client",
            "client_secret": "mi-secret",
            "audience": AUDIENCE,
        }
        return
    assert req["content_type"] == "application/x-www-form-urlencoded"
    form = req["form"]
    expected = {
        "mydevices-admin": {
            "grant_type": "client_credentials",
            "client_id": "md-admin",
            "client_secret": "md-admin-secret",
        },
        "mydevices-user": {
            "grant_type": "password",
            "client_id": "md-user",
            "client_secret": "md-user-secret",
            "username": "user@example.com",
            "password": "userpass",
        },
        "devensoft": {
            "grant_type": "client_credentials",
            "client_id": "dv-client",
            "client_secret": "dv-secret",
        },
        "yipii": {
            "grant_type": "client_credentials",
            "client_id": "yp-client",
            "client_secret": "yp-secret",
            "scope": "reports",
        },
        "allthingstalk-user": {
            "grant_type": "refresh_token",
            "client_id": "web",
            "refresh_token": cfg.get("refresh_token"),
        },
    }[preset]
    assert form == expected
    assert req["headers"].get("Accept") == "application/json"
    assert "Authorization" not in req["headers"]
