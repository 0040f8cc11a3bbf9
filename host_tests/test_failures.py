"""Broken and hostile servers: the contract's error class, no secret in any message, the
still-valid token served meanwhile, and no request before the back-off has passed."""

from __future__ import annotations

import re

import pytest
from test_grants import generic, grants

from conftest import write_config
from presets import config
from tools.tokenserver.certs import Certs
from tools.tokenserver.server import apply_control, http_date

SECRETS = ("device-1-secret", "md-admin-secret")

ONE = """
import iotauth
a = iotauth.load()
try:
    out("t", a.token())
except iotauth.AuthError as e:
    out("e", err(e))
    out("repr", repr(e))
"""


# Nothing listens on port 9 (discard): every connection is refused.
REFUSED = {
    "grant": "client_credentials",
    "token_url": "http://127.0.0.1:9/t",
    "client_id": "a",
    "client_secret": "b",
    "insecure_http": True,
}


def fault(server, mode, **kw):
    apply_control(server.state, {"fault": dict(mode=mode, **kw)})


def assert_clean(res):
    text = repr(res)
    for s in SECRETS:
        assert s not in text


@pytest.mark.parametrize(
    "mode,words",
    [
        ("500", "HTTP 500"),
        ("502", "HTTP 502"),
        ("503", "HTTP 503"),
        ("429", "HTTP 429"),
        ("html", "HTTP 502"),
        ("truncated", "malformed"),
        ("oversized", "too large"),
        ("no_access_token", "no access_token"),
        ("redirect", "redirected"),
        ("reset", ""),
    ],
)
def test_fault_is_transient_with_backoff(mode, words, any_runner, server, flash, figure):
    runner = any_runner
    write_config(flash, generic(server))
    fault(server, mode)
    res = runner.run(
        ONE
        + """
out("last", err(a.last_error))
try:
    a.token()
except iotauth.AuthError as e:
    out("again", err(e))
""",
        heap="64k",
    )
    kind, msg, retry = res["e"][:3]
    assert kind == "TransientError" and words in msg, res["e"]
    assert 1 <= retry <= 600
    assert res["last"][0] == "TransientError"
    # The next call does not reach the server before the back-off has passed.
    assert res["again"][0] == "TransientError" and res["again"][2] >= 1
    assert len(server.state.requests) == 1
    assert_clean(res)
    if runner.runtime == "micropython":
        figure(
            f"server fault {mode} (64 KB heap, {runner.name})",
            "pass",
            f"TransientError, next request held {retry} s, 1 request",
        )


@pytest.mark.parametrize("header", ["120", "date"])
def test_retry_after_is_honoured(header, runner, server, flash, figure):
    write_config(flash, generic(server))
    value = http_date(120) if header == "date" else "120"
    fault(server, "503", retry_after=value, count=1)
    res = runner.run(
        ONE
        + """
advance(100)
try:
    a.token()
except iotauth.TransientError as e:
    out("at100", e.retry_after)
advance(25)
out("t2", a.token())
"""
    )
    assert 115 <= res["e"][2] <= 121
    assert 15 <= res["at100"] <= 21
    assert res["t2"] and grants(server) == [
        ("client_credentials", 503),
        ("client_credentials", 200),
    ]
    if runner.runtime == "micropython":
        figure(
            f"503 with Retry-After ({'HTTP-date' if header == 'date' else 'seconds'})",
            "pass",
            f"waited {res['e'][2]} s for Retry-After 120",
        )


def test_backoff_grows_with_jitter_and_caps(runner, server, flash, figure):
    write_config(flash, generic(server))
    fault(server, "500")
    res = runner.run("""
import iotauth
a = iotauth.load()
for i in range(12):
    try:
        a.token()
    except iotauth.TransientError as e:
        out("wait", e.retry_after)
        advance(e.retry_after + 1)
""")
    waits = res["wait"]
    assert len(waits) == 12 and len(server.state.requests) == 12
    for i, w in enumerate(waits):  # 4 s doubling, equal jitter, capped at 600 s
        full = min(4 << i, 600)
        assert full // 2 <= w <= full, (i, w)
    assert max(waits) <= 600 and waits[-1] >= 300
    if runner.runtime == "micropython":
        figure("500 twelve times in a row", "pass", f"back-off {waits} s")


def test_valid_token_served_while_renewal_fails(runner, server, flash):
    write_config(flash, generic(server, margin=60))
    server.state.lifetime = 600
    res = runner.run("""
import iotauth
a = iotauth.load()
t = a.token()
out("t", t)
""")
    fault(server, "500")
    res2 = runner.run("""
import iotauth
a = iotauth.load()
advance(590 - 60 - 61)   # just before renewal can be due: no request
out("early", a.token())
advance(76)              # renewal due, server failing: the old token keeps serving
out("hdr", a.headers())  # the header, let go during the attempt, is back
out("due", a.token())
out("last", err(a.last_error))
out("poll", a.poll())
advance(70)              # expired and the server still failing: token() raises
try:
    a.token()
    out("late", None)
except iotauth.TransientError as e:
    out("late", err(e))
""")
    t = res["t"]
    assert res2["early"] == t and res2["due"] == t
    assert res2["hdr"] == {"Authorization": "Bearer " + t}
    assert res2["last"][0] == "TransientError"
    assert 1 <= res2["poll"] <= 4
    assert res2["late"][0] == "TransientError"
    assert [s for _, s in grants(server)] == [200, 500, 500]


def test_credentials_error_waits_long(runner, server, flash, figure):
    write_config(flash, config("mydevices-admin", server, client_secret="md-admin-WRONG"))
    res = runner.run(
        ONE
        + """
try:
    a.token()
except iotauth.TransientError as e:
    out("again", err(e))
out("poll", a.poll())
"""
    )
    kind, msg, _, error, desc = res["e"]
    assert kind == "CredentialsError" and error == "unauthorized_client"
    assert desc == "Invalid client secret" and "401" in msg
    assert "md-admin-WRONG" not in repr(res)
    assert 60 <= res["again"][2] <= 90 and res["poll"] >= 59  # at least a minute (README)
    assert len(server.state.requests) == 1
    if runner.runtime == "micropython":
        figure(
            "401 unauthorized_client",
            "pass",
            f"CredentialsError, next request held {res['again'][2]} s (60-90; transient: 2-4 s)",
        )


def test_invalid_grant_password(runner, server, flash):
    write_config(flash, config("mydevices-user", server, password="nope-PW"))
    res = runner.run(ONE)
    assert res["e"][0] == "CredentialsError" and res["e"][3] == "invalid_grant"
    assert "nope-PW" not in repr(res)


def test_server_echoing_a_secret_is_scrubbed(runner, server, flash, monkeypatch):
    import tools.tokenserver.server as srv

    def echo(fault, state, dialect, req, server_):
        return srv._json(
            400,
            {
                "error": "invalid_client",
                "error_description": "bad secret " + req.form["client_secret"],
            },
        )

    monkeypatch.setattr(srv, "inject", echo)
    write_config(flash, generic(server))
    fault(server, "500")
    res = runner.run(ONE)
    assert res["e"][0] == "CredentialsError" and "***" in res["e"][1]
    assert_clean(res)


@pytest.mark.parametrize("field,cut", [("error", 64), ("error_description", 200)])
def test_secret_straddling_the_cut_is_masked_whole(field, cut, runner, server, flash, monkeypatch):
    # The server's text is cut to 64 (error) or 200 (description) characters: masked after
    # the cut, the secret's first characters would be left in the message.
    import tools.tokenserver.server as srv

    def echo(fault, state, dialect, req, server_):
        text = "x" * (cut - 6) + req.form["client_secret"]
        body = {"error": "invalid_client", "error_description": "refused"}
        body[field] = text
        return srv._json(400, body)

    monkeypatch.setattr(srv, "inject", echo)
    write_config(flash, generic(server))
    fault(server, "500")
    res = runner.run(ONE)
    assert res["e"][0] == "CredentialsError"
    for text in (res["e"][1], res["e"][3], res["e"][4], res["repr"]):
        assert "device" not in text  # not even the first characters of device-1-secret
    assert_clean(res)


SQUEEZED = """
import gc, iotauth
a = iotauth.load()
ballast = []
gc.collect()
while gc.mem_free() > %d:
    try:
        ballast.append(bytearray(256))
    except MemoryError:
        break
gc.collect()
free = gc.mem_free()
e1 = e2 = p = None
try:
    a.token()
except Exception as e:
    e1 = e
try:
    p = a.poll()
except Exception as e:
    e2 = e
ballast = None  # room again to report
gc.collect()
out("free", free)
out("e", err(e1) if e1 else None)
out("last", err(a.last_error) if a.last_error else None)
out("poll", err(e2) if e2 else p)
"""


@pytest.mark.parametrize("free_kb", [12, 6, 2])
def test_failure_in_a_full_heap_is_transient_with_back_off(free_kb, board_runner, flash):
    # 12 KB free and a refused connection: the failure is recorded and backed off, with
    # the failure code loaded or, where even that finds no heap, without; a MemoryError
    # never escapes token() or poll().
    write_config(flash, REFUSED)
    res = board_runner.run(SQUEEZED % (free_kb * 1024), heap="96k")
    assert res["e"][0] == "TransientError" and res["e"][2] >= 1, res
    assert res["last"][0] == "TransientError", res
    assert type(res["poll"]) is int and res["poll"] >= 1, res


def test_silent_server_times_out(runner, server, flash):
    write_config(flash, generic(server, timeout=1))
    fault(server, "silent", seconds=5)
    res = runner.run(ONE)
    assert res["e"][0] == "TransientError" and "timed out" in res["e"][1]


def test_connection_refused(runner, flash):
    write_config(flash, REFUSED)
    res = runner.run(ONE)
    assert res["e"][0] == "TransientError" and "network error" in res["e"][1]


def test_tls_unknown_ca(any_runner, tls_server, flash, tmp_path):
    other = Certs(tmp_path / "other", ["localhost"])
    write_config(flash, generic(tls_server, insecure_http=False, ca=str(other.ca_pem)))
    res = any_runner.run(ONE)
    assert res["e"][0] == "TransientError" and "TLS" in res["e"][1]
    if any_runner.runtime == "micropython":
        # mbedtls words a verification that ran out of heap as a bad signature: the free
        # heap beside it tells the two apart
        assert re.search(r"\(heap free: \d+ bytes\)$", res["e"][1]), res
    assert tls_server.state.requests == []


def test_tls_handshake_short_of_heap_says_how_much_was_free(
    port, tls_server, certs, flash, mpy_build
):
    # On the board-faithful port mbedtls allocates from the GC heap: squeezed so that the
    # handshake cannot finish, the renewal is a TransientError naming the free heap, not
    # only a certificate the CA did not sign.
    from harness import Runner

    write_config(flash, generic(tls_server, insecure_http=False, ca=str(certs.ca_der)))
    runner = Runner("micropython", flash, mpy_build, binary=port["unix-board"])
    res = runner.run(SQUEEZED % (20 * 1024), heap="96k")
    kind, msg = res["e"][:2]
    assert kind == "TransientError", res
    # mbedtls says ENOMEM, or a verification short of heap reads as a bad signature, or the
    # agent's own code found none: each says the heap was short
    assert (
        re.fullmatch(
            r"(TLS handshake failed: )?out of heap for the connection \(\d+ bytes free; .*\)", msg
        )  # noqa: E501
        or re.search(r"\(heap free: \d+ bytes\)$", msg)
        or msg == "out of memory during the renewal"
    ), res


def test_tls_wrong_host_name(runner, certs, flash, tmp_path):
    from tools.tokenserver.server import State, serve

    wrong = Certs(tmp_path / "wrong", ["iot.example.com"])
    srv = serve(State(), wrong.server_context())
    try:
        srv.base = f"https://localhost:{srv.port}"
        write_config(flash, generic(srv, insecure_http=False, ca=str(wrong.ca_der)))
        res = runner.run(ONE)
    finally:
        srv.close()
    assert res["e"][0] == "TransientError" and "TLS" in res["e"][1]
    assert srv.state.requests == []


def test_tls_verified_with_der_and_pem(runner, tls_server, certs, flash):
    for ca in (certs.ca_der, certs.ca_pem):
        write_config(flash, generic(tls_server, insecure_http=False, ca=str(ca)))
        (flash / "auth.state").unlink(missing_ok=True)
        (flash / "auth.state.1").unlink(missing_ok=True)
        assert runner.run(ONE)["t"]
    assert len(tls_server.state.requests) == 2


def test_tls_verified_against_a_pem_bundle(runner, tls_server, certs, flash, tmp_path):
    # A bundle of several CAs (the server's not first) verifies as any of them would.
    other = Certs(tmp_path / "other", ["localhost"])
    bundle = flash / "bundle.pem"
    bundle.write_bytes(other.ca_pem.read_bytes() + b"\n" + certs.ca_pem.read_bytes())
    write_config(flash, generic(tls_server, insecure_http=False, ca="bundle.pem"))
    res = runner.run(ONE)
    assert res.get("t"), res
    assert len(tls_server.state.requests) == 1


@pytest.mark.parametrize(
    "content",
    [
        b"hello, not a certificate\n",
        b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        b"\x30\x03\x02\x01\x00",
    ],
    ids=["text", "pem key", "der integer"],
)
def test_ca_that_is_not_a_certificate_is_a_config_error(content, runner, tls_server, flash):
    (flash / "ca.pem").write_bytes(content)
    write_config(flash, generic(tls_server, insecure_http=False, ca="ca.pem"))
    res = runner.run(ONE.replace("a = iotauth.load()\ntry:", "try:\n    a = iotauth.load()"))
    kind, msg = res["e"][:2]
    assert kind == "ConfigError" and "'ca'" in msg and "certificate" in msg, res
    assert tls_server.state.requests == []


NO_ROOM_FOR_HEADER = """
import iotauth
a = iotauth.load()
real = a._header
fail = [2]
def header():  # the heap is full when the new token's header is made, and still after
    if fail[0]:
        fail[0] -= 1
        raise MemoryError("memory allocation failed, allocating 1041 bytes")
    real()
a._header = header
try:
    out("h", a.headers())
except Exception as e:
    out("e", err(e))
out("state", open("auth.state.1").read() if "auth.state.1" in __import__("os").listdir() else
    open("auth.state").read())
out("h2", a.headers())
out("t", a.token())
"""


def test_no_heap_for_the_header_after_a_renewal(runner, server, flash):
    # The tokens are persisted before the header is made; with no room for the header the
    # call is a TransientError (never a MemoryError, never an empty headers dict), and the
    # next call makes the header without asking the server again.
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    res = runner.run(NO_ROOM_FOR_HEADER)
    assert res["e"][0] == "TransientError" and "out of memory" in res["e"][1], res
    assert res["h2"] == {"Authorization": "Bearer " + res["t"]}
    assert res["t"] in res["state"]  # it reached flash before the header was needed
    assert len(server.state.requests) == 1
