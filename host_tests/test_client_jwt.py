"""client_auth "jwt" (client_secret_jwt, RFC 7523 2.2) on both runtimes and the board-faithful
port against the Authlib server's client_secret_jwt: the secret never on the wire, a fresh
assertion (jti, iat, exp a minute ahead) at every request, signed HS256 with the secret;
before NTP a TransientError that says so and nothing sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from test_circuitpython import ROTATE  # a token, a renewal, the agent's repr

from conftest import write_config

SECRET = "device-jwt-secret-0123456789abcdef"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

UNSET = """
import iotauth
rtc_unset()
a = iotauth.load()
try:
    a.token()
except iotauth.TransientError as e:
    out("e", err(e))
"""


def jwt_config(server, **extra):
    c = {
        "grant": "client_credentials",
        "client_id": "device-jwt",
        "client_secret": SECRET,
        "client_auth": "jwt",
        "token_url": server.url("/oauth/token"),
        "insecure_http": True,
    }
    c.update(extra)
    return c


def _part(s: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def test_the_secret_stays_on_the_device(any_runner, server, flash):
    write_config(flash, jwt_config(server))
    res = any_runner.run(ROTATE)
    assert res["changed"] is True
    reqs = server.state.requests
    assert [r["status"] for r in reqs] == [200, 200]
    jtis = []
    for r in reqs:
        form = r["form"]
        assert set(form) == {
            "grant_type",
            "client_id",
            "client_assertion_type",
            "client_assertion",
        }
        assert form["client_assertion_type"] == ASSERTION
        assert SECRET not in repr(r) and "Authorization" not in r["headers"]
        head, claims, sig = form["client_assertion"].split(".")
        assert _part(head) == {"alg": "HS256", "typ": "JWT"}
        c = _part(claims)
        assert c["iss"] == c["sub"] == "device-jwt" and c["aud"] == server.url("/oauth/token")
        assert c["exp"] - c["iat"] == 60
        mac = hmac.new(SECRET.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
        assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == sig
        jtis.append(c["jti"])
    assert len(set(jtis)) == 2 and all(len(j) == 32 for j in jtis)  # fresh, 128 random bits
    assert SECRET not in any_runner.stdout + res["repr"]


def test_before_ntp_no_assertion_is_made(runner, server, flash):
    write_config(flash, jwt_config(server))
    res = runner.run(UNSET)
    kind, words, retry = res["e"][:3]
    assert kind == "TransientError" and "clock is not set" in words and retry >= 1
    assert server.state.requests == []


REFUSED = """
import iotauth
try:
    a = iotauth.load()
    a.token()
except iotauth.AuthError as e:
    out("e", err(e))
"""


def test_a_wrong_secret_is_refused_as_credentials(runner, server, flash):
    write_config(flash, jwt_config(server, client_secret="not-the-secret-9876"))
    res = runner.run(REFUSED)
    assert res["e"][0] == "CredentialsError" and res["e"][3] == "invalid_client"
    assert "not-the-secret-9876" not in runner.stdout


def test_jwt_needs_the_client_secret(runner, server, flash):
    # The password grant needs no secret of its own: with jwt it does.
    cfg = jwt_config(server, grant="password", username="user@example.com", password="userpass")
    del cfg["client_secret"]
    write_config(flash, cfg)
    res = runner.run(REFUSED)
    assert res["e"][:2] == [
        "ConfigError",
        "auth.json: field 'client_secret' is required for client_auth jwt",
    ]


ASYNC = """
import asyncio, iotauth
a = iotauth.load()


async def main():
    t1 = await a.atoken()
    a.invalidate()
    out("renewed", (await a.atoken()) != t1)


asyncio.run(main())
"""


def test_jwt_on_asyncio_sends_one_request_per_renewal(server, flash, mpy_build):
    # Each composing signs a new assertion: the async renewal still sends each request once.
    from harness import Runner

    write_config(flash, jwt_config(server))
    res = Runner("micropython", flash, mpy_build).run(ASYNC)
    assert res["renewed"] is True
    assert [r["status"] for r in server.state.requests] == [200, 200]
