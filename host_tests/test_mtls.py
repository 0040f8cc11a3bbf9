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
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)
from test_circuitpython import ROTATE
from test_client_jwt import ASYNC  # a token and a renewal on asyncio

from conftest import write_config
from tools import x509
from tools.tokenserver.server import State, serve

# A token, a renewal, the agent's repr, then an API call with the token.
TOKEN_AND_CALL = (
    ROTATE
    + """r = a.request("GET", %(api)r)
out("api", [r.status_code, r.json()])
"""
)

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
    # As `openssl ecparam -genkey` writes a key: the curve's parameters first.
    key = (flash / "device.key").read_text()
    params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    (flash / "device.key").write_text(params + key)
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


NO_KEY = "field 'key' names a file that holds no unencrypted private key"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"cert": None}, "field 'cert' is required for client_auth tls"),
        ({"key": None}, "field 'key' is required for client_auth tls"),
        ({"client_auth": "body"}, None),  # the cert presented, the secret asked for
        ({"key": "device.crt"}, NO_KEY),
        ({"key": "encrypted.key"}, NO_KEY),
        ({"cert": "device.key"}, "field 'cert' names a file that holds no certificate"),
        ({"cert": "nowhere.crt"}, "field 'cert' names a file that cannot be read"),
        ({"transport": "requests"}, "field 'cert' needs transport builtin"),
    ],
)
def test_config_errors(runner, certs, flash, change, words):
    device(flash, certs)
    k = load_der_private_key((flash / "device.key").read_bytes(), None)
    enc = BestAvailableEncryption(b"passphrase")
    (flash / "encrypted.key").write_bytes(k.private_bytes(Encoding.DER, PrivateFormat.PKCS8, enc))
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


def test_mutual_tls_on_asyncio(board_runner, mtls_server, certs, flash):
    # The non-blocking handshake presents the certificate as the blocking one does.
    der = device(flash, certs)
    write_config(flash, mtls_config(mtls_server, certs, flash))
    assert board_runner.run(ASYNC)["renewed"] is True
    check_wire(mtls_server, der, "device-mtls")


# From the laptop: tools.provision makes the key and the certificate (or the CSR), checks
# the config against the server and puts the files on the board beside auth.json.


def _provision(*args, cwd, stdin=""):
    from test_provision import provision

    r = provision(*args, cwd=cwd, stdin=stdin)
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    return r


def _tokenserver(*args):
    import subprocess
    import sys

    from harness import ROOT

    cmd = [sys.executable, "-m", "tools.tokenserver", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)


def _new(server, certs, tmp_path, client_id, *more):
    return _provision(
        "new",
        "yipii",
        "--client-id",
        client_id,
        "--token-url",
        server.url("/oauth/token"),
        "--ca",
        str(certs.ca_der),
        "--client-auth",
        "tls",
        *more,
        cwd=tmp_path,
    )


def test_provision_a_self_signed_device_then_push_it(mtls_server, certs, tmp_path):
    import stat

    from test_board import MP_SHIM
    from test_provision import provision

    from harness import Runner
    from tools.vboard import VirtualBoard

    r = _new(mtls_server, certs, tmp_path, "device-selfsigned")  # no secret asked for
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "auth.json").read_text())
    assert cfg["client_auth"] == "tls" and "client_secret" not in cfg
    assert (cfg["cert"], cfg["key"]) == ("device.crt", "device.key")
    der = (tmp_path / "device.crt").read_bytes()
    key = (tmp_path / "device.key").read_bytes()
    for f in ("device.crt", "device.key", "auth.json"):
        assert stat.S_IMODE((tmp_path / f).stat().st_mode) == 0o600
    assert x509.matching(tmp_path / "device.crt", tmp_path / "device.key") == der
    assert x509.subject_dn(der) == "CN=device-selfsigned"
    # What to register: the certificate itself, and its thumbprint.
    assert x509.pem("CERTIFICATE", der).decode().strip() in r.stdout
    assert f"SHA-256 thumbprint {x509.thumbprint(der)}" in r.stdout
    assert base64.b64encode(key).decode()[:32] not in r.stdout + r.stderr
    # Before it is registered the server does not know it; then it does.
    assert _provision("check", "auth.json", cwd=tmp_path).returncode == 1
    mtls_server.state.register("device-selfsigned", der)
    r = _provision("check", "auth.json", cwd=tmp_path)
    assert r.returncode == 0 and "issued a token" in r.stdout, r.stderr
    assert mtls_server.state.requests[-1]["form"] == {
        "grant_type": "client_credentials",
        "client_id": "device-selfsigned",
    }
    flash = tmp_path / "board"
    flash.mkdir()
    vb = VirtualBoard(flash, [MP_SHIM], run_main=False).start()
    try:
        assert provision("push", "auth.json", "--port", vb.port, cwd=tmp_path).returncode == 0
        assert (flash / "device.crt").read_bytes() == der
        assert (flash / "device.key").read_bytes() == key
        assert json.loads((flash / "auth.json").read_text())["cert"] == "device.crt"
        res = Runner("micropython", flash).run(STOLEN)
        assert len(res["t"]) > 100  # the board's own key, in the handshake
    finally:
        vb.close()


def test_provision_with_a_csr_for_the_device_ca(mtls_server, certs, tmp_path):
    r = _new(mtls_server, certs, tmp_path, "device-mtls", "--csr")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "auth.json").exists()  # it waits for the certificate
    assert "subject CN=device-mtls" in r.stdout and "--cert ISSUED.crt" in r.stdout
    csr = (tmp_path / "device.csr").read_bytes()
    assert csr.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    # The local token server's device CA issues it, as a platform's console would.
    t = _tokenserver("--certs", str(certs.ca_pem.parent), "--issue", str(tmp_path / "device.csr"))
    assert t.returncode == 0, t.stderr
    issued = tmp_path / "device.crt"
    assert x509.issued_by(issued.read_bytes(), x509.read_der(certs.device_ca_pem))
    r = _new(mtls_server, certs, tmp_path, "device-mtls", "--cert", str(issued), "--key",
             "device.key")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"thumbprint {x509.thumbprint(issued.read_bytes())}" in r.stdout
    r = _provision("check", "auth.json", cwd=tmp_path)
    assert r.returncode == 0 and "issued a token" in r.stdout, r.stderr


def test_provision_refuses_a_certificate_of_another_key(certs, mtls_server, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    assert _new(mtls_server, certs, other, "device-mtls").returncode == 0
    assert _new(mtls_server, certs, tmp_path, "device-mtls", "--csr").returncode == 0
    r = _new(mtls_server, certs, tmp_path, "device-mtls", "--cert", str(other / "device.crt"),
             "--key", "device.key")  # fmt: skip
    assert r.returncode == 1 and "the certificate is not the key's" in r.stderr
    r = _new(mtls_server, certs, tmp_path, "device-mtls")  # would overwrite the CSR's key
    assert r.returncode == 1 and "device.key exists" in r.stderr


def test_provision_client_secret_jwt(server, tmp_path):
    r = _provision(
        "new",
        "devensoft",
        "--client-id",
        "device-jwt",
        "--token-url",
        server.url("/oauth/token"),
        "--set",
        "insecure_http=true",
        "--client-auth",
        "jwt",
        cwd=tmp_path,
        stdin="device-jwt-secret-0123456789abcdef\n",
    )
    assert r.returncode == 0 and "client_secret_jwt" in r.stdout, r.stderr
    assert json.loads((tmp_path / "auth.json").read_text())["client_auth"] == "jwt"
    # The check from the host signs an assertion too: the secret stays on the laptop.
    r = _provision("check", "auth.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "device-jwt-secret" not in repr(server.state.requests)


def test_register_a_self_signed_certificate_at_run_time(runner, mtls_server, certs, flash):
    # What a developer does against `make serve`: /_control registers the device's
    # certificate with its client; a bad one is refused there.
    import ssl
    import urllib.error
    import urllib.request

    der = device(flash, certs, "bench-7", self_signed=True)
    ctx = ssl.create_default_context(cafile=str(certs.ca_pem))

    def control(body):
        req = urllib.request.Request(
            mtls_server.url("/_control"), data=json.dumps(body).encode(), method="POST"
        )
        return urllib.request.urlopen(req, context=ctx)

    with pytest.raises(urllib.error.HTTPError) as e:
        control({"register": {"client": "device-selfsigned", "cert": "bm90IGEgY2VydA=="}})
    assert e.value.code == 400
    b64 = base64.b64encode(der).decode()
    assert control({"register": {"client": "device-selfsigned", "cert": b64}}).status == 200
    write_config(flash, mtls_config(mtls_server, certs, flash, "device-selfsigned"))
    assert len(runner.run(STOLEN)["t"]) > 100
