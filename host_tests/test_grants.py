"""Grants, encodings, client authentication, refresh rotation and 401 handling, on both
runtimes against the Authlib token server."""

from __future__ import annotations

import base64
import json

from conftest import write_config
from presets import config
from tools.tokenserver.server import Client, apply_control

API = "/api/resource"


def generic(server, **extra) -> dict:
    c = {
        "grant": "client_credentials",
        "token_url": server.url("/oauth/token"),
        "client_id": "device-1",
        "client_secret": "device-1-secret",
        "insecure_http": True,
    }
    c.update(extra)
    return c


def grants(server) -> list[tuple[str, int]]:
    return [(r["grant"], r["status"]) for r in server.state.requests]


def test_basic_auth_encodes_id_and_secret(runner, server, flash):
    # RFC 6749 2.3.1: id and secret are form-encoded before base64.
    cid, secret = "dev:1/ü", "s3c:r&t %/x+="
    server.state.clients[cid] = Client(cid, secret, "generic", ("client_credentials",))
    write_config(
        flash,
        generic(server, client_id=cid, client_secret=secret, client_auth="basic", scope="read"),
    )
    res = runner.run("import iotauth\nout('t', iotauth.load().token())\n")
    assert res["t"]
    (req,) = server.state.requests
    assert req["auth"] == "basic" and req["status"] == 200
    assert req["form"] == {"grant_type": "client_credentials", "scope": "read"}
    raw = base64.b64decode(req["headers"]["Authorization"].split()[1]).decode()
    assert raw == "dev%3A1%2F%C3%BC:s3c%3Ar%26t%20%25%2Fx%2B%3D"


def test_json_encoding_with_basic_auth_and_audience(runner, server, flash):
    write_config(flash, generic(server, encoding="json", client_auth="basic", audience="api://x"))
    # The generic route takes forms only: a JSON body must be refused the RFC way.
    res = runner.run("""
import iotauth
try:
    iotauth.load().token()
except iotauth.CredentialsError as e:
    out("e", err(e))
""")
    (req,) = server.state.requests
    assert req["content_type"] == "application/json"
    assert json.loads(req["body"]) == {"grant_type": "client_credentials", "audience": "api://x"}
    assert res["e"][0] == "CredentialsError" and res["e"][3] == "invalid_request"


def test_static_header_and_scheme(runner, flash):
    write_config(flash, {"grant": "static", "token": "k-123", "header": "X-API-Key", "scheme": ""})
    res = runner.run(
        "import iotauth\na = iotauth.load()\nout('h', a.headers())\n"
        "a.invalidate()\nout('t', a.token())\n"
    )
    assert res["h"] == {"X-API-Key": "k-123"} and res["t"] == "k-123"


def test_token_type_and_scheme_are_separate(runner, server, flash):
    # Devensoft answers token_type "bearer": the header still says what the config says.
    write_config(flash, config("devensoft", server, scheme="Token"))
    res = runner.run("import iotauth\na = iotauth.load()\nout('h', a.headers())\n")
    assert res["h"]["Authorization"].startswith("Token eyJ")


ROTATE = """
import iotauth
a = iotauth.load()
out("t1", a.token())
a.invalidate()
out("t2", a.token())
"""


def test_refresh_rotation_survives_restart(runner, server, flash):
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    r1 = runner.run(ROTATE)
    assert r1["t1"] != r1["t2"]
    assert grants(server) == [("password", 200), ("refresh_token", 200)]
    # The rotated refresh token was persisted: after a restart the old one (now revoked)
    # is not used, the new one is.
    r2 = runner.run(
        "import iotauth\na = iotauth.load()\nout('t', a.token())\na.invalidate()\n"
        "out('t3', a.token())\n"
    )
    assert r2["t"] == r1["t2"]
    assert grants(server)[2:] == [("refresh_token", 200)]
    sent = [r["form"].get("refresh_token") for r in server.state.requests[1:]]
    assert sent[0] != sent[1]


def test_refresh_token_that_needs_escaping(runner, server, flash):
    # An opaque refresh token with + / = goes percent-encoded into the prepared body: sent
    # raw, + would arrive as a space, the refresh would be refused and the agent would
    # fall back to the primary grant unseen.
    apply_control(server.state, {"refresh_escaped": True})
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    res = runner.run(ROTATE)
    assert res["t1"] != res["t2"]
    assert grants(server) == [("password", 200), ("refresh_token", 200)]
    assert server.state.requests[1]["form"]["refresh_token"].startswith("rt+/=")


PREPARED = """
import json
from iotauth import config, grant
for enc in ("form", "json"):
    c = config.parse({"grant": "refresh_token", "token_url": "http://h:1/t",
        "refresh_token": "r", "client_id": "c i", "scope": "a b", "encoding": enc,
        "insecure_http": True})
    grant.prepare(c)
    for tok in ("eyJ.plain-token_1~", 'o+/= "q' + chr(92)):
        body = c.pre + grant.quote(c, tok) + c.post
        out(enc + " " + tok, body.decode())
"""


def test_prepared_refresh_body_carries_any_token(runner, flash):
    # config composes the refresh grant's body around the token once, at boot: for both
    # encodings, the body around any token must read back as the token and the fields.
    from urllib.parse import parse_qs

    res = runner.run(PREPARED)
    for tok in ("eyJ.plain-token_1~", 'o+/= "q' + chr(92)):
        form = parse_qs(res["form " + tok], keep_blank_values=True, strict_parsing=True)
        # No scope: a refresh keeps the scope granted (RFC 6749 6).
        assert form == {
            "grant_type": ["refresh_token"],
            "refresh_token": [tok],
            "client_id": ["c i"],
        }
        assert json.loads(res["json " + tok]) == {
            "grant_type": "refresh_token",
            "refresh_token": tok,
            "client_id": "c i",
        }


def test_refresh_asks_for_no_scope_audience_but_resource(runner, server, flash):
    # device-1 may have "read write": asked for more, the server grants less (RFC 6749 3.3)
    # and refuses a refresh that asks for the scope again (section 6): invalid_scope.
    write_config(
        flash,
        generic(
            server,
            grant="password",
            username="user@example.com",
            password="userpass",
            scope="read write admin",
            audience="api://things",
            resource="https://api.example.com/",
        ),
    )
    res = runner.run(ROTATE)
    assert res["t1"] != res["t2"]
    assert grants(server) == [("password", 200), ("refresh_token", 200)]
    first, refresh = (r["form"] for r in server.state.requests)
    assert first["scope"] == "read write admin" and first["audience"] == "api://things"
    assert "scope" not in refresh and "audience" not in refresh
    assert first["resource"] == refresh["resource"] == "https://api.example.com/"


def test_rejected_refresh_falls_back_to_primary_grant(runner, server, flash):
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    runner.run("import iotauth\nout('t', iotauth.load().token())\n")
    apply_control(server.state, {"revoke": True})
    res = runner.run(
        "import iotauth\na = iotauth.load()\na.invalidate()\nout('t', a.token())\n"
        "out('e', a.last_error)\n"
    )
    assert res["t"] and res["e"] is None
    assert grants(server) == [("password", 200), ("refresh_token", 400), ("password", 200)]


def test_request_renews_once_on_401(runner, server, flash):
    write_config(flash, config("mydevices-admin", server))
    res = runner.run(f"""
import iotauth
a = iotauth.load()
out("t1", a.token())
r = a.request("GET", {server.url(API)!r})
out("s1", r.status_code)
r.close()
""")
    apply_control(server.state, {"revoke": True})  # the API now says 401 to the token
    res = runner.run(f"""
import iotauth
a = iotauth.load()
r = a.request("GET", {server.url(API)!r}, headers={{"X-Trace": "1"}})
out("s2", r.status_code)
out("t2", a.token())
""")
    assert res["s2"] == 200
    calls = server.state.api_calls
    assert [c["ok"] for c in calls] == [True, False, True]
    # refresh token revoked too: the agent fell back to client credentials
    assert grants(server) == [
        ("client_credentials", 200),
        ("refresh_token", 400),
        ("client_credentials", 200),
    ]


def test_request_does_not_retry_a_static_token(runner, server, flash):
    write_config(flash, {"grant": "static", "token": "wrong", "insecure_http": True})
    res = runner.run(f"""
import iotauth
a = iotauth.load()
r = a.request("GET", {server.url(API)!r})
out("s", r.status_code)
""")
    assert res["s"] == 401 and len(server.state.api_calls) == 1


EXPIRY = """
import iotauth
a = iotauth.load()
a.token()
out("left", a._tok.expires_in())
"""


def test_expires_in_as_string(runner, server, flash):
    write_config(flash, generic(server))
    apply_control(server.state, {"fault": {"mode": "expires_string"}})
    res = runner.run(EXPIRY)
    assert 3590 <= res["left"] <= 3600


def test_expires_in_absent_uses_jwt_exp(runner, server, flash):
    write_config(flash, generic(server))
    server.state.lifetime = 1234
    apply_control(server.state, {"fault": {"mode": "expires_missing"}})
    res = runner.run(EXPIRY)
    assert 1224 <= res["left"] <= 1234


def test_expires_in_absent_opaque_token_lives_until_401(runner, server, flash):
    c = config("allthingstalk-user", server)
    write_config(flash, c)
    apply_control(server.state, {"fault": {"mode": "expires_missing"}})
    res = runner.run(EXPIRY + "out('poll', a.poll())\n")
    assert res["left"] is None and res["poll"] == 3600


def test_keycloak_refresh_expiry_is_kept(runner, server, flash):
    write_config(flash, config("mydevices-admin", server))
    res = runner.run(
        "import iotauth\na = iotauth.load()\na.token()\nout('r', a._tok.rexpiry.remaining())\n"
    )
    assert 172790 <= res["r"] <= 172800


def test_chunked_response(runner, server, flash):
    write_config(flash, generic(server))
    apply_control(server.state, {"fault": {"mode": "chunked"}})
    res = runner.run("import iotauth\nout('t', iotauth.load().token())\n")
    assert res["t"].startswith("eyJ")


def test_requests_transport(runner, server, flash):
    write_config(flash, config("mydevices-user", server, transport="requests"))
    res = runner.run(f"""
import iotauth
a = iotauth.load()
out("t", a.token())
a.invalidate()
out("t2", a.token())
r = a.request("GET", {server.url(API)!r})
out("s", r.status_code)
""")
    assert res["t"] != res["t2"] and res["s"] == 200
    assert grants(server) == [("password", 200), ("refresh_token", 200)]
