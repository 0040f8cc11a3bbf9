"""The token server checked with a standard client (Authlib's own OAuth2Client on httpx) for
every grant and dialect, against what shared/platforms/*.txt documents."""

from __future__ import annotations

import ssl
import time

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from harness import ROOT
from presets import AUDIENCE
from tools.tokenserver.server import State, approve_device, serve

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def client(cid, secret=None, method="client_secret_post", **kw) -> OAuth2Client:
    return OAuth2Client(cid, secret, token_endpoint_auth_method=method, **kw)


def post(server, path, **kw) -> httpx.Response:
    return httpx.post(server.url(path), **kw)


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_client_credentials_generic(server, method):
    tok = client("device-1", "device-1-secret", method, scope="read").fetch_token(
        server.url("/oauth/token"), grant_type="client_credentials"
    )
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600 and tok["scope"] == "read"
    assert "refresh_token" not in tok
    assert server.state.requests[-1]["auth"] == ("basic" if method.endswith("basic") else "body")


def test_mydevices_admin_keycloak_shape(tls_server, certs):
    c = client(
        "md-admin", "md-admin-secret", verify=ssl.create_default_context(cafile=str(certs.ca_pem))
    )
    tok = c.fetch_token(
        tls_server.url("/auth/realms/demo/protocol/openid-connect/token"),
        grant_type="client_credentials",
    )
    assert set(tok) >= {
        "access_token",
        "expires_in",
        "refresh_expires_in",
        "refresh_token",
        "token_type",
        "not-before-policy",
        "session_state",
        "scope",
    }
    assert tok["expires_in"] == 86400 and tok["refresh_expires_in"] == 172800
    assert tok["token_type"] == "bearer" and tok["access_token"].count(".") == 2
    assert 800 <= len(tok["access_token"]) <= 1400 and 500 <= len(tok["refresh_token"]) <= 900
    # Refresh with rotation; the old refresh token is refused afterwards.
    new = c.refresh_token(
        tls_server.url("/auth/realms/demo/protocol/openid-connect/token"),
        refresh_token=tok["refresh_token"],
    )
    assert new["refresh_token"] != tok["refresh_token"]
    with pytest.raises(OAuthError) as e:
        c.refresh_token(
            tls_server.url("/auth/realms/demo/protocol/openid-connect/token"),
            refresh_token=tok["refresh_token"],
        )
    assert e.value.error == "invalid_grant"


def test_mydevices_admin_bad_secret_is_keycloak_401(server):
    r = post(
        server,
        "/auth/realms/demo/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "md-admin",
            "client_secret": "nope",
        },
    )
    assert r.status_code == 401
    assert r.json() == {
        "error": "unauthorized_client",
        "error_description": "Invalid client secret",
    }


def test_mydevices_user_password_grant(server):
    c = client("md-user", "md-user-secret")
    tok = c.fetch_token(
        server.url("/v1.0/oauth/token"), username="user@example.com", password="userpass"
    )
    assert tok["expires_in"] == 86400 and tok["refresh_token"]
    with pytest.raises(OAuthError) as e:
        c.fetch_token(
            server.url("/v1.0/oauth/token"), username="user@example.com", password="wrong"
        )
    assert e.value.error == "invalid_grant"


def test_devensoft_shape(server):
    tok = client("dv-client", "dv-secret").fetch_token(
        server.url("/token"), grant_type="client_credentials"
    )
    assert tok["token_type"] == "bearer" and tok["expires_in"] == 3600
    assert set(tok) <= {"access_token", "token_type", "expires_in", "expires_at"}


def test_yipii_shape(server):
    tok = client("yp-client", "yp-secret", scope="reports").fetch_token(
        server.url("/api/oauth/token"), grant_type="client_credentials"
    )
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 365 * 86400


def test_modulariot_json_only(server):
    body = {
        "client_id": "mi-client",
        "client_secret": "mi-secret",
        "audience": AUDIENCE,
        "grant_type": "client_credentials",
    }
    r = post(server, "/api/v1/login", json=body)
    assert r.status_code == 200 and r.json()["expires_in"] == 86400
    r = post(server, "/api/v1/login", data=body)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = post(server, "/api/v1/login", json=dict(body, audience="https://other"))
    assert r.status_code == 403


def test_allthingstalk_mfa_login_and_rotation(server):
    r = post(
        server,
        "/login",
        data={
            "grant_type": "password",
            "username": "att-user",
            "password": "att-pass",
            "client_id": "web",
        },
    )
    step = r.json()
    assert set(step) >= {"MfaUid", "UserId"} and "access_token" not in step

    def mfa(code):
        form = {
            "grant_type": "mfa",
            "mfa_uid": step["MfaUid"],
            "user_id": "att-user",
            "code": code,
            "client_id": "web",
        }
        return post(server, "/login", data=form)

    bad = mfa("000000")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    tok = mfa("123456").json()
    assert set(tok) >= {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "as:client_id",
        "userName",
        ".issued",
        ".expires",
    }
    assert tok["expires_in"] == 3599 and tok["as:client_id"] == "web"
    c = client("web", None, "none")
    new = c.refresh_token(server.url("/login"), refresh_token=tok["refresh_token"])
    assert new["refresh_token"] != tok["refresh_token"]
    issued = server.state.refresh[new["refresh_token"]]
    assert abs(issued.expires_at - time.time() - 60 * 86400) < 5


def test_protected_api(server):
    tok = client("device-1", "device-1-secret").fetch_token(
        server.url("/oauth/token"), grant_type="client_credentials"
    )
    api = server.url("/api/resource")
    ok = httpx.get(api, headers={"Authorization": "Bearer " + tok["access_token"]})
    assert ok.status_code == 200
    for h in ("Bearer maker:device-token-1", "maker:ground-token-1"):
        assert httpx.get(api, headers={"Authorization": h}).status_code == 200
    bad = httpx.get(api, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and "invalid_token" in bad.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "kw,error,status",
    [
        (
            {
                "json": {
                    "grant_type": "client_credentials",
                    "client_id": "device-1",
                    "client_secret": "device-1-secret",
                }
            },
            "invalid_request",
            400,
        ),
        (
            {
                "data": {
                    "grant_type": "client_credentials",
                    "client_id": "device-1",
                    "client_secret": "device-1-secret",
                },
                "auth": ("device-1", "device-1-secret"),
            },
            "invalid_request",
            400,
        ),
        ({"data": {"grant_type": "client_credentials"}}, "invalid_client", 401),
        (
            {
                "data": {
                    "grant_type": "client_credentials",
                    "client_id": "device-1",
                    "client_secret": "wrong",
                }
            },
            "invalid_client",
            401,
        ),
        (
            {
                "data": {
                    "grant_type": "implicit",
                    "client_id": "device-1",
                    "client_secret": "device-1-secret",
                }
            },
            "unsupported_grant_type",
            400,
        ),
        (
            {
                "data": {
                    "grant_type": "password",
                    "client_id": "dv-client",
                    "client_secret": "dv-secret",
                    "username": "u",
                    "password": "p",
                },
                "path": "/token",
            },
            "unauthorized_client",
            400,
        ),
    ],
)
def test_strict_errors(server, kw, error, status):
    path = kw.pop("path", "/oauth/token")
    r = post(server, path, **kw)
    assert r.status_code == status and r.json()["error"] == error, r.text


def test_device_code_flow(server):
    server.state.device_interval = 1
    c = client("tv-1", None, "none")
    d = post(server, "/oauth/device", data={"client_id": "tv-1", "scope": "read"}).json()
    assert set(d) >= {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert d["interval"] == 1 and d["verification_uri"].endswith("/device")
    url = server.url("/oauth/token")

    def poll():
        return c.fetch_token(url, grant_type=DEVICE_GRANT, device_code=d["device_code"])

    with pytest.raises(OAuthError) as e:
        poll()
    assert e.value.error == "authorization_pending"
    with pytest.raises(OAuthError) as e:  # polled again at once: too fast
        poll()
    assert e.value.error == "slow_down"
    r = httpx.post(server.url("/device"), data={"user_code": d["user_code"], "action": "approve"})
    assert r.status_code == 200
    time.sleep(6.1)  # the interval grew by 5 s after slow_down
    tok = poll()
    assert tok["access_token"] and tok["refresh_token"]


def test_device_code_denied_and_expired(server):
    server.state.device_interval = 0
    c = client("tv-1", None, "none")
    url = server.url("/oauth/token")
    d = post(server, "/oauth/device", data={"client_id": "tv-1"}).json()
    assert approve_device(server.state, d["user_code"], approve=False)
    with pytest.raises(OAuthError) as e:
        c.fetch_token(url, grant_type=DEVICE_GRANT, device_code=d["device_code"])
    assert e.value.error == "access_denied"
    server.state.device_expires_in = -1
    d = post(server, "/oauth/device", data={"client_id": "tv-1"}).json()
    with pytest.raises(OAuthError) as e:
        c.fetch_token(url, grant_type=DEVICE_GRANT, device_code=d["device_code"])
    assert e.value.error == "expired_token"


def test_faults_per_client_through_the_control_endpoint(server):
    ctl = server.url("/_control")
    r = httpx.post(
        ctl,
        json={"fault": {"mode": "503", "client": "dv-client", "retry_after": "30", "count": 1}},
    )
    assert r.status_code == 200
    form = {
        "grant_type": "client_credentials",
        "client_id": "device-1",
        "client_secret": "device-1-secret",
    }
    assert post(server, "/oauth/token", data=form).status_code == 200  # other clients unaffected
    dv = {
        "grant_type": "client_credentials",
        "client_id": "dv-client",
        "client_secret": "dv-secret",
    }
    r = post(server, "/token", data=dv)
    assert r.status_code == 503 and r.headers["Retry-After"] == "30"
    assert post(server, "/token", data=dv).status_code == 200  # count 1: over
    assert httpx.post(ctl, json={"fault": {"mode": "bogus"}}).status_code == 400


def test_request_log_masks_secrets(capsys):
    s = serve(State(verbose=True))
    try:
        client("device-1", "device-1-secret").fetch_token(
            s.url("/oauth/token"), grant_type="client_credentials"
        )
    finally:
        s.close()
    err = capsys.readouterr().err
    assert "grant=client_credentials client=device-1" in err and "-> 200" in err
    assert "device-1-secret" not in err


def _start_dev_server(certs_dir, port, http_port):
    import subprocess
    import sys
    import time

    p = subprocess.Popen(
        [sys.executable, "-m", "tools.tokenserver", "--port", str(port), "--http-port",
         str(http_port), "--certs", str(certs_dir), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        line = p.stdout.readline()
        lines.append(line)
        if "change faults at run time" in line:
            return p, "".join(lines)
    p.kill()
    raise AssertionError("the token server did not start:\n" + "".join(lines))


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dev_server_keeps_its_ca_across_restarts(tmp_path):
    # A device provisioned against `make serve` must still trust it after a restart.
    import urllib.error
    import urllib.request

    port, http_port = _free_port(), _free_port()
    p, out = _start_dev_server(tmp_path / "certs", port, http_port)
    try:
        assert "CA (made now)" in out and f"HTTPS on 127.0.0.1:{port}" in out
        # the development credentials, findable without reading the source
        assert "device-1 / device-1-secret" in out and "att-user / att-pass" in out
    finally:
        p.terminate()
        p.wait(10)
    ca = (tmp_path / "certs" / "ca.pem").read_bytes()
    p, out = _start_dev_server(tmp_path / "certs", port, http_port)
    try:
        assert "CA (kept from the last start)" in out
        assert (tmp_path / "certs" / "ca.pem").read_bytes() == ca
        ctx = ssl.create_default_context(cadata=ca.decode())
        req = urllib.request.Request(f"https://localhost:{port}/api/resource")
        try:
            urllib.request.urlopen(req, context=ctx, timeout=10)
        except urllib.error.HTTPError as e:  # 401 without a token: TLS verified with the old CA
            assert e.code == 401
    finally:
        p.terminate()
        p.wait(10)
    for key in ("ca.key", "server.key"):
        assert (tmp_path / "certs" / key).stat().st_mode & 0o077 == 0


def test_a_client_reusing_its_connection_sees_it_closed(server):
    # adafruit_requests keeps a socket after Connection: close and sends its next request on
    # it at once: the server closes without waiting for the client to give up.
    import socket

    body = b"grant_type=client_credentials&client_id=device-1&client_secret=device-1-secret"
    head = b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
    head += b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(head + body)
        f = s.makefile("rb")
        lines = iter(f.readline, b"\r\n")
        size = next(
            int(v) for k, _, v in (ln.partition(b":") for ln in lines) if k == b"Content-Length"
        )
        f.read(size)
        s.sendall(b"GET /api/resource HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100) == b""  # closed, not a socket.timeout after 5 s


def test_the_request_log_masks_every_credential():
    from tools.tokenserver.server import _masked

    form = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s1",
            "client_assertion": "eyJ.x.y", "refresh_token": "r1", "password": "p1"}  # fmt: skip
    shown = repr(_masked(form))
    assert all(v not in shown for v in ("s1", "eyJ.x.y", "r1", "p1")) and "'c'" in shown
