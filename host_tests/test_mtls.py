"""client_auth "tls" (RFC 8705 mutual TLS) against the token server asking for client
certificates: tls_client_auth (a certificate the device CA issued from the device's CSR,
matched by subject DN) and self_signed_tls_client_auth (a self-signed certificate registered
with the client), tokens bound to the certificate (cnf x5t#S256) and presented again by
request(); no secret on the wire; a refused certificate is a CredentialsError when the server
answers invalid_client, a TransientError when it ends the handshake."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from conftest import write_config
from tools import x509
from tools.tokenserver.server import State, serve

TOKEN_AND_CALL = """
import iotauth
a = iotauth.load()
t1 = a.token()
a.invalidate()
t2 = a.token()
out("changed", t1 != t2)
r = a.request("GET", %(api)r)
out("api", [r.status_code, r.json()])
out("repr", repr(a))
"""

REFUSED = """
import iotauth
a = iotauth.load()
try:
    a.token()
except iotauth.AuthError as e:
    out("e", err(e))
"""


@pytest.fixture
def mtls_server(certs):
    s = serve(State(), certs.server_context(clients=True), host="127.0.0.1")
    s.base = f"https://localhost:{s.port}"
    yield s
    s.close()


def device(flash, certs, cn="device-mtls", self_signed=False, pem=False):
    """The device's key and certificate in the flash, made as tools.provision makes them."""
    key = x509.new_key()
    der = x509.self_signed(key, cn) if self_signed else certs.issue(x509.csr(key, cn))
    kder = x509.key_der(key)
    if pem:  # PEM files work too: the agent reads them into DER
        body = base64.encodebytes(der).decode()
        pem_cert = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
        (flash / "device.crt").write_text(pem_cert)
        k = load_der_private_key(kder, None)
        (flash / "device.key").write_bytes(
            k.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
        )
    else:
        (flash / "device.crt").write_bytes(der)
        (flash / "device.key").write_bytes(kder)
    return der


def mtls_config(server, certs, flash, client_id="device-mtls", **extra):
    c = {
        "grant": "client_credentials",
        "client_id": client_id,
        "client_auth": "tls",
        "cert": str(flash / "device.crt"),
        "key": str(flash / "device.key"),
        "token_url": server.url("/oauth/token"),
        "ca": str(certs.ca_der),
    }
    c.update(extra)
    return c


def _claims(jwt: str) -> dict:
    body = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def check_wire(server, der, client_id):
    """Only the client id in each token request, every access token bound to the key."""
    reqs = server.state.requests
    assert [r["status"] for r in reqs] == [200, 200]
    for r in reqs:
        assert set(r["form"]) == {"grant_type", "client_id"}, r["form"]
        assert r["form"]["client_id"] == client_id
        assert "Authorization" not in r["headers"] and r["auth"] == "none"
    issued = list(server.state.access.values())
    assert len(issued) == 2 and all(t.x5t == x509.thumbprint(der) for t in issued)
    for t in issued:
        assert _claims(t.token)["cnf"] == {"x5t#S256": x509.thumbprint(der)}


def test_tls_client_auth_with_a_certificate_from_the_device_ca(
    any_runner, mtls_server, certs, flash
):
    der = device(flash, certs)
    write_config(flash, mtls_config(mtls_server, certs, flash))
    res = any_runner.run(TOKEN_AND_CALL % {"api": mtls_server.url("/api/resource")})
    assert res["changed"] is True
    assert res["api"] == [200, {"ok": True, "subject": "device-mtls"}]  # the same cert shown
    check_wire(mtls_server, der, "device-mtls")
    key = (flash / "device.key").read_bytes()
    assert base64.b64encode(key).decode()[:40] not in any_runner.stdout + res["repr"]


def test_self_signed_tls_client_auth(runner, mtls_server, certs, flash):
    der = device(flash, certs, "my-sensor-7", self_signed=True)
    mtls_server.state.register("device-selfsigned", der)
    write_config(flash, mtls_config(mtls_server, certs, flash, "device-selfsigned"))
    res = runner.run(TOKEN_AND_CALL % {"api": mtls_server.url("/api/resource")})
    assert res["changed"] is True and res["api"][0] == 200
    check_wire(mtls_server, der, "device-selfsigned")


def test_pem_key_and_certificate(runner, mtls_server, certs, flash):
    der = device(flash, certs, pem=True)
    write_config(flash, mtls_config(mtls_server, certs, flash))
    res = runner.run(TOKEN_AND_CALL % {"api": mtls_server.url("/api/resource")})
    assert res["changed"] is True and res["api"][0] == 200
    check_wire(mtls_server, der, "device-mtls")


STOLEN = """
import iotauth
a = iotauth.load()
out("t", a.token())
"""


def test_a_bound_token_is_useless_without_the_key(runner, mtls_server, certs, flash, tmp_path):
    # The token copied off the device, sent with another client's certificate or none.
    device(flash, certs)
    write_config(flash, mtls_config(mtls_server, certs, flash))
    tok = runner.run(STOLEN)["t"]
    import ssl
    import urllib.error
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(certs.ca_pem))
    other = x509.new_key()
    (tmp_path / "o.crt").write_text(ssl.DER_cert_to_PEM_cert(certs.issue(x509.csr(other, "x"))))
    (tmp_path / "o.key").write_bytes(
        other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    ctx2 = ssl.create_default_context(cafile=str(certs.ca_pem))
    ctx2.load_cert_chain(str(tmp_path / "o.crt"), str(tmp_path / "o.key"))
    for c in (ctx, ctx2):
        req = urllib.request.Request(
            mtls_server.url("/api/resource"), headers={"Authorization": "Bearer " + tok}
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, context=c)
        assert e.value.code == 401


def test_a_certificate_of_another_subject_is_refused_as_credentials(
    runner, mtls_server, certs, flash
):
    # Issued by the device CA, so the handshake passes; the server's check then refuses it.
    device(flash, certs, "someone-else")
    write_config(flash, mtls_config(mtls_server, certs, flash))
    res = runner.run(REFUSED)
    assert res["e"][0] == "CredentialsError" and res["e"][3] == "invalid_client"


def test_an_unregistered_self_signed_certificate_ends_the_handshake(
    runner, mtls_server, certs, flash
):
    # Trusted by nothing: the server ends the handshake, which says no more than a broken
    # link would, so the agent retries later rather than calling the device unprovisioned.
    device(flash, certs, "rogue", self_signed=True)
    write_config(flash, mtls_config(mtls_server, certs, flash, "device-selfsigned"))
    res = runner.run(REFUSED)
    kind, words, retry = res["e"][:3]
    assert kind == "TransientError" and retry > 0, res["e"]
    assert words.startswith("TLS handshake failed: ") or words.startswith("TLS error"), words
    if runner.runtime == "micropython":  # mbedtls fails the handshake itself (TLS 1.2)
        assert words.endswith("does the server trust the device's certificate?"), words
    assert mtls_server.state.requests == []


CONFIG = """
import iotauth
try:
    iotauth.load()
except iotauth.ConfigError as e:
    out("e", str(e))
"""


@pytest.mark.parametrize(
    "change, words",
    [
        ({"cert": None}, "field 'cert' is required for client_auth tls"),
        ({"key": None}, "field 'key' is required for client_auth tls"),
        ({"client_auth": "body"}, None),  # the cert presented, the secret asked for
        ({"key": "device.crt"}, "field 'key' names a file that holds no unencrypted private key"),
        ({"cert": "device.key"}, "field 'cert' names a file that holds no certificate"),
        ({"cert": "nowhere.crt"}, "field 'cert' names a file that cannot be read"),
        ({"transport": "requests"}, "field 'cert' needs transport builtin"),
    ],
)
def test_config_errors(runner, certs, flash, change, words):
    device(flash, certs)
    cfg = {
        "grant": "client_credentials",
        "client_id": "device-mtls",
        "client_auth": "tls",
        "cert": "device.crt",
        "key": "device.key",
        "token_url": "https://localhost:1/oauth/token",
        "ca": str(certs.ca_der),
    }
    for k, v in change.items():
        if v is None:
            del cfg[k]
        else:
            cfg[k] = v
    if change.get("transport"):
        cfg["insecure_tls"] = True
    write_config(flash, cfg)
    res = runner.run(CONFIG)
    if words is None:
        need = "auth.json: field 'client_secret' is required for grant client_credentials"
        assert res["e"] == need
    else:
        assert words in res["e"], res["e"]


ASYNC = """
import asyncio, iotauth
a = iotauth.load()


async def main():
    t1 = await a.atoken()
    a.invalidate()
    out("changed", (await a.atoken()) != t1)


asyncio.run(main())
"""


def test_mutual_tls_on_asyncio(board_runner, mtls_server, certs, flash):
    # The non-blocking handshake presents the certificate as the blocking one does.
    der = device(flash, certs)
    write_config(flash, mtls_config(mtls_server, certs, flash))
    assert board_runner.run(ASYNC)["changed"] is True
    check_wire(mtls_server, der, "device-mtls")
