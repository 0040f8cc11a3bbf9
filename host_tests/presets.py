"""Configs for every preset against the local token server, as a user would write them."""

from __future__ import annotations

import json
import urllib.request

AUDIENCE = "https://iot.streamhub.cl/v1/asset/track"

STATIC_TOKENS = {
    "allthingstalk-device": "maker:device-token-1",
    "allthingstalk-ground": "maker:ground-token-1",
}

PRESET_NAMES = (
    "mydevices-admin",
    "mydevices-user",
    "devensoft",
    "yipii",
    "modulariot",
    "allthingstalk-device",
    "allthingstalk-ground",
    "allthingstalk-user",
)


def att_refresh_token(server) -> str:
    """What `tools/provision login` does on the host: AllThingsTalk's MFA login."""
    ctx = None
    if server.scheme == "https":
        import ssl

        ctx = ssl._create_unverified_context()

    def post(form):
        data = "&".join(f"{k}={v}" for k, v in form.items()).encode()
        req = urllib.request.Request(server.url("/login"), data=data, method="POST")
        with urllib.request.urlopen(req, context=ctx) as r:
            return json.loads(r.read())

    step = post(
        {
            "grant_type": "password",
            "username": "att-user",
            "password": "att-pass",
            "client_id": "web",
        }
    )
    tok = post(
        {
            "grant_type": "mfa",
            "mfa_uid": step["MfaUid"],
            "user_id": step["UserId"],
            "code": "123456",
            "client_id": "web",
        }
    )
    server.state.requests.clear()
    return tok["refresh_token"]


def config(preset: str, server, certs=None, **extra) -> dict:
    b = server.base
    c: dict = {"preset": preset}
    if preset == "mydevices-admin":
        c.update(
            realm="demo",
            client_id="md-admin",
            client_secret="md-admin-secret",
            token_url=b + "/auth/realms/demo/protocol/openid-connect/token",
        )
    elif preset == "mydevices-user":
        c.update(
            client_id="md-user",
            client_secret="md-user-secret",
            username="user@example.com",
            password="userpass",
            token_url=b + "/v1.0/oauth/token",
        )
    elif preset == "devensoft":
        c.update(client_id="dv-client", client_secret="dv-secret", token_url=b + "/token")
    elif preset == "yipii":
        c.update(
            client_id="yp-client",
            client_secret="yp-secret",
            scope="reports",
            token_url=b + "/api/oauth/token",
        )
    elif preset == "modulariot":
        c.update(
            client_id="mi-client",
            client_secret="mi-secret",
            audience=AUDIENCE,
            token_url=b + "/api/v1/login",
        )
    elif preset in STATIC_TOKENS:
        c.update(token=STATIC_TOKENS[preset])
    elif preset == "allthingstalk-user":
        c.update(client_id="web", refresh_token=att_refresh_token(server), token_url=b + "/login")
    # Static tokens too: request() sends a token only where it may (CONTRACT).
    if server.scheme == "https":
        c["ca"] = str(certs.ca_pem) if certs else None
    else:
        c["insecure_http"] = True
    c.update(extra)
    return c


def secrets_of(cfg: dict) -> list[str]:
    return [cfg[k] for k in ("client_secret", "password", "refresh_token", "token") if cfg.get(k)]
