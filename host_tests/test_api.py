"""Agent.request(): the token goes only where the client secret would (verified https, or
http with insecure_http), never after a redirect; the response has what sketches use."""

from __future__ import annotations

import json

import pytest
from test_failures import ONE
from test_grants import API, generic, grants
from test_http import RawServer

from conftest import write_config
from tools.tokenserver.certs import Certs

CALL = """
import iotauth
a = iotauth.load()
try:
    r = a.request("GET", %s)
    out("s", r.status_code)
    out("h", r.headers)
    out("c", r.text)
    r.close()
except Exception as e:
    out("e", err(e))
"""


def test_https_api_verified_against_api_ca(runner, tls_server, certs, flash):
    write_config(flash, generic(tls_server, insecure_http=False, api_ca=str(certs.ca_der)))
    # token_url is https: ca or insecure_tls is needed for it too
    cfg = generic(tls_server, insecure_http=False, ca=str(certs.ca_pem), api_ca=str(certs.ca_der))
    write_config(flash, cfg)
    res = runner.run(CALL % repr(tls_server.url(API)))
    assert res.get("s") == 200 and json.loads(res["c"])["ok"] is True, res
    assert len(tls_server.state.api_calls) == 1


def test_https_api_with_another_ca_gets_no_token(runner, tls_server, certs, flash, tmp_path):
    other = Certs(tmp_path / "other", ["localhost"])
    cfg = generic(tls_server, insecure_http=False, ca=str(certs.ca_pem), api_ca=str(other.ca_pem))
    write_config(flash, cfg)
    res = runner.run(CALL % repr(tls_server.url(API)))
    assert res["e"][0] == "OSError" and "TLS" in res["e"][1], res
    assert tls_server.state.api_calls == []  # the handshake failed: no request, no token


def test_https_api_without_any_ca_is_refused(runner, tls_server, flash):
    write_config(flash, {"grant": "static", "token": "maker:device-token-1"})
    res = runner.run(CALL % repr(tls_server.url(API)))
    assert res["e"][0] == "ConfigError" and "api_ca" in res["e"][1], res
    assert tls_server.state.api_calls == []


def test_http_api_needs_insecure_http(runner, server, flash):
    write_config(flash, {"grant": "static", "token": "maker:device-token-1"})
    res = runner.run(CALL % repr(server.url(API)))
    assert res["e"][0] == "ConfigError" and "insecure_http" in res["e"][1], res
    assert server.state.api_calls == []
    write_config(
        flash, {"grant": "static", "token": "maker:device-token-1", "insecure_http": True}
    )
    res = runner.run(CALL % repr(server.url(API)))
    assert res["s"] == 200, res


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_returned_not_followed(status, runner, flash):
    # A redirect to another port: the bearer token must not reach it.
    elsewhere = RawServer(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    api = RawServer(
        b"HTTP/1.1 %d Moved\r\nLocation: http://127.0.0.1:%d/x\r\nContent-Length: 0\r\n\r\n"
        % (status, elsewhere.port)
    )
    try:
        write_config(flash, {"grant": "static", "token": "tok-SECRET", "insecure_http": True})
        res = runner.run(CALL % repr(f"http://127.0.0.1:{api.port}/v1/x"))
    finally:
        api.close()
        elsewhere.close()
    assert res["s"] == status, res
    assert b"Authorization: Bearer tok-SECRET" in api.seen[0]
    assert elsewhere.seen == []


def test_response_has_what_sketches_use(runner, flash):
    body = json.dumps({"value": 21.5, "unit": "C"}).encode()
    api = RawServer(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Req: 7\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    try:
        write_config(flash, {"grant": "static", "token": "k", "insecure_http": True})
        res = runner.run(f"""
import iotauth
a = iotauth.load()
r = a.request("POST", "http://127.0.0.1:{api.port}/v1/r", json={{"t": 1}},
              headers={{"X-Trace": "a"}}, timeout=5)
out("s", r.status_code)
out("j", r.json())
out("c", len(r.content))
out("t", r.text)
out("h", r.headers.get("X-Req"))
r.close()
""")
    finally:
        api.close()
    assert res["s"] == 200 and res["j"] == {"value": 21.5, "unit": "C"}
    assert res["c"] == len(body) and res["t"] == body.decode() and res["h"] == "7"
    sent = api.seen[0]
    assert sent.startswith(b"POST /v1/r HTTP/1.0\r\n")
    assert b"\r\nX-Trace: a\r\n" in sent and b"\r\nAuthorization: Bearer k\r\n" in sent
    assert b"Content-Type: application/json" in sent and sent.endswith(b'{"t": 1}')


@pytest.mark.parametrize("transport", ["builtin", "requests"])
def test_token_request_never_follows_a_redirect(transport, runner, flash):
    # A 307 keeps the method and the body: followed, the client secret would be posted to
    # the Location. micropython-lib's requests follows every redirect by itself.
    good = json.dumps({"access_token": "stolen", "expires_in": 60}).encode()
    elsewhere = RawServer(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(good) + good)
    token = RawServer(
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:%d/t\r\n"
        b"Content-Length: 0\r\n\r\n" % elsewhere.port
    )
    try:
        cfg = {
            "grant": "client_credentials",
            "token_url": f"http://127.0.0.1:{token.port}/t",
            "client_id": "c",
            "client_secret": "cs-SECRET",
            "client_auth": "basic",
            "insecure_http": True,
            "transport": transport,
        }
        write_config(flash, cfg)
        res = runner.run(ONE)
    finally:
        token.close()
        elsewhere.close()
    assert res["e"][0] == "TransientError" and "redirected" in res["e"][1], res
    assert elsewhere.seen == []
    assert len(token.seen) == 1


def test_request_renews_on_401_over_verified_https(runner, tls_server, certs, flash):
    from tools.tokenserver.server import apply_control

    write_config(flash, generic(tls_server, insecure_http=False, ca=str(certs.ca_pem)))
    runner.run("import iotauth\niotauth.load().token()\n")
    apply_control(tls_server.state, {"revoke": True})
    res = runner.run(CALL % repr(tls_server.url(API)))
    assert res["s"] == 200, res
    assert [s for _, s in grants(tls_server)] == [200, 200]
