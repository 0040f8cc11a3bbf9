"""The lean HTTP client against a raw socket server: the framings servers really use, and
the broken ones, with a board-sized heap on the unix port."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from conftest import write_config

BODY = json.dumps(
    {
        "access_token": "tok-" + "x" * 900,
        "expires_in": 3600,
        "refresh_token": "r" * 700,
        "token_type": "bearer",
    }
).encode()


class RawServer:
    """Answers every connection with the given bytes, sent in pieces, then closes."""

    def __init__(self, answer: bytes, piece: int = 0):
        self.answer, self.piece = answer, piece
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += c.recv(4096)
                head, _, body = data.partition(b"\r\n\r\n")
                length = head.lower().split(b"content-length:")[1:]
                n = int(length[0].split(b"\r\n")[0]) if length else 0
                while len(body) < n:
                    body += c.recv(4096)
                self.seen.append(head + b"\r\n\r\n" + body)
                try:
                    self._answer(c)
                except OSError:  # the client gave up: what the test is about, often
                    pass

    def _answer(self, c):
        step = self.piece or len(self.answer) or 1
        for i in range(0, len(self.answer), step):
            c.sendall(self.answer[i : i + step])

    def close(self):
        self.sock.close()


def chunked(body: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += b"%x;ext=1\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


GOOD = [
    (
        "http11 content-length",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY,
        0,
    ),
    (
        "http10 read to close",
        b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n" + BODY,
        0,
    ),
    ("byte by byte", b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: %d\r\n\r\n" % len(BODY) + BODY, 1),
    ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(BODY, 100), 7),
]

BAD = [
    (
        "truncated body",
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY[:50],
        "malformed",
    ),
    ("no head end", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", "malformed"),
    ("not http", b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "malformed"),
    ("huge content-length", b"HTTP/1.1 200 OK\r\nContent-Length: 999999\r\n\r\n{}", "too large"),
    (
        "huge headers",
        b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n{}",
        "too large",
    ),
    ("endless body", b"HTTP/1.0 200 OK\r\n\r\n" + b" " * 200000, "too large"),
    (
        "bad chunk",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        "malformed",
    ),
    ("empty answer", b"", "malformed"),
]

RUN = """
import iotauth
a = iotauth.load()
try:
    t = a.token()
    out("t", [t[:8], len(t)])  # not the whole token: the test's own JSON would cost heap
    out("left", a._tok.expires_in())
except iotauth.AuthError as e:
    out("e", err(e))
"""


def exchange(runner, flash, srv, script=None, **cfg):
    """Runs `script` (default RUN) on a 64 KB heap against `srv`; -> (srv, results)."""
    try:
        write_config(flash, dict(config(srv.port), **cfg))
        return srv, runner.run(script or RUN, heap="64k")
    finally:
        srv.close()


def config(port):
    return {
        "grant": "client_credentials",
        "token_url": f"http://127.0.0.1:{port}/t",
        "client_id": "c",
        "client_secret": "s",
        "insecure_http": True,
        "timeout": 3,
    }


@pytest.mark.parametrize("name,answer,piece", GOOD, ids=[g[0] for g in GOOD])
def test_framings(name, answer, piece, runner, flash):
    srv, res = exchange(runner, flash, RawServer(answer, piece))
    assert res.get("t") == ["tok-xxxx", 904], res
    assert 3590 <= res["left"] <= 3600
    head = srv.seen[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /t HTTP/1.0\r\n") and f"Host: 127.0.0.1:{srv.port}" in head


@pytest.mark.parametrize("name,answer,words", BAD, ids=[b[0] for b in BAD])
def test_broken_framings(name, answer, words, runner, flash):
    srv, res = exchange(runner, flash, RawServer(answer))
    assert res["e"][0] == "TransientError" and words in res["e"][1], res


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


BIG = json.dumps({"access_token": "a" * 3000, "refresh_token": "r" * 2500, "expires_in": 60})
SIZES = """
import iotauth
a = iotauth.load()
parts = a._cfg.token_url_parts
out("boot", parts[6])
sizes = []
for i in range(3):
    try:
        sizes.append(len(a.token()))
    except iotauth.AuthError as e:
        sizes.append(err(e))
    out("buf%d" % i, parts[6])
    a.invalidate()
out("sizes", sizes)
"""


def test_buffer_is_sized_to_the_largest_response_and_let_go(runner, flash):
    # A response over the old fixed 4 KB (two fat JWTs) is read; the endpoint remembers its
    # size, so the next requests' buffers are made that large at once (test_firmware: no
    # http module, so no buffer, stays in the heap between renewals).
    srv, res = exchange(runner, flash, RawServer(ok(BIG.encode())), script=SIZES)
    assert res["sizes"] == [3000, 3000, 3000], res
    need = len(ok(BIG.encode()))
    assert 4096 < need <= res["buf0"] < need + 512, res
    assert res["buf0"] == res["buf1"] == res["buf2"], res
    assert res["boot"] == 0, res


def test_error_page_grows_the_buffer_only_to_the_error_cap(runner, flash):
    # A 7 KB HTML error page: the status and its first 2 KB are enough for the error; the
    # buffer does not grow to hold the page.
    page = b"<html>" + b"x" * 7000 + b"</html>"
    busy = RawServer(answer("503 Busy", page))
    _, res = exchange(runner, flash, busy, script=SIZES.replace("range(3)", "range(1)"))
    assert res["sizes"][0][0] == "TransientError" and "503" in res["sizes"][0][1], res
    assert res["boot"] == 0 and res["buf0"] == 2048, res


def answer(status: str, body: bytes, *headers: bytes) -> bytes:
    head = b"HTTP/1.1 " + status.encode() + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_error_body_over_512_bytes_keeps_its_fields(runner, flash):
    # A real 401 of 537 bytes: read to its Content-Length, error and description survive.
    body = json.dumps(
        {
            "error": "invalid_client",
            "error_description": "Client authentication failed: " + "unknown client. " * 28,
        }
    ).encode()
    assert len(body) > 512
    srv, res = exchange(
        runner, flash, RawServer(answer("401 Unauthorized", body, b"WWW-Authenticate: Basic"))
    )
    kind, _msg, _, error, desc = res["e"]
    assert kind == "CredentialsError" and error == "invalid_client", res
    assert desc.startswith("Client authentication failed: unknown client.")


class OpenServer(RawServer):
    """Sends its answer in pieces `delay` seconds apart, then keeps the connection open."""

    def __init__(self, answer: bytes, piece: int = 0, delay: float = 0.0, hold: float = 10.0):
        self.delay, self.hold, self.closed = delay, hold, threading.Event()
        super().__init__(answer, piece)

    def _answer(self, c):
        import time

        step = self.piece or len(self.answer)
        for i in range(0, len(self.answer), step):
            c.sendall(self.answer[i : i + step])
            time.sleep(self.delay)
        self.closed.wait(self.hold)  # the client must not wait for this

    def close(self):
        self.closed.set()
        super().close()


TIMED = (
    "time = sys.modules['time'] if sys.implementation.name == 'micropython' else boardtime\n"
    "t0 = time.ticks_ms()\n" + RUN + 'out("ms", time.ticks_diff(time.ticks_ms(), t0))\n'
)


def test_complete_response_on_a_connection_kept_open(runner, flash):
    # The server sends a whole response with Content-Length and keeps the connection open:
    # the agent stops at Content-Length instead of waiting for the close (a board's
    # readinto waits until the slice is full).
    srv, res = exchange(runner, flash, OpenServer(ok(BODY)), script=TIMED, timeout=3)
    assert res.get("t") == ["tok-xxxx", 904], res
    assert res["ms"] < 2000, res


def test_dripping_server_is_cut_at_twice_the_timeout(runner, flash):
    # A byte every 0.2 s: each read succeeds, but the answer as a whole is bounded by twice
    # the timeout (2 s here), not 0.2 s times its length.
    srv, res = exchange(
        runner, flash, OpenServer(ok(BODY), piece=1, delay=0.2), script=TIMED, timeout=1
    )
    assert res["e"][0] == "TransientError" and "timed out" in res["e"][1], res
    assert 2000 <= res["ms"] < 3500, res


@pytest.mark.parametrize(
    "name,headers",
    [
        ("a header that mentions chunked", [b"X-Note: never-chunked"]),
        ("Transfer-Encoding: identity", [b"Transfer-Encoding: identity"]),
    ],
)
def test_chunked_only_when_transfer_encoding_says_so(name, headers, runner, flash):
    srv, res = exchange(runner, flash, RawServer(answer("200 OK", BODY, *headers)))
    assert res.get("t") == ["tok-xxxx", 904], res


@pytest.mark.parametrize(
    "te", [b"transfer-encoding: CHUNKED", b"Transfer-Encoding: gzip, chunked"]
)
def test_chunked_header_in_any_case(te, runner, flash):
    srv, res = exchange(
        runner, flash, RawServer(b"HTTP/1.1 200 OK\r\n" + te + b"\r\n\r\n" + chunked(BODY, 300))
    )
    assert res.get("t") == ["tok-xxxx", 904], res


@pytest.mark.parametrize("size", [b"-5", b"+5", b" 5", b"0x5"])
def test_bad_chunk_sizes_are_refused(size, runner, flash):
    body = size + b"\r\nabcde\r\n0\r\n\r\n"
    srv, res = exchange(
        runner, flash, RawServer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    )
    assert res["e"][0] == "TransientError" and "malformed" in res["e"][1], res


THREE_POLLS = """
import iotauth
a = iotauth.load()
waits = []
for i in range(3):
    try:
        waits.append(a.poll())
    except Exception as e:
        waits.append(err(e))
out("waits", waits)
out("last", err(a.last_error))
"""


def test_non_utf8_header_is_a_transient_error_with_back_off(runner, flash):
    # A Latin-1 byte in a header of a 503: a TransientError with back-off, not a
    # UnicodeError out of poll() and a request at every poll.
    srv, res = exchange(
        runner,
        flash,
        RawServer(answer("503 Busy", b"{}", b"X-Note: caf\xe9", b"Retry-After: 30")),
        script=THREE_POLLS,
    )
    assert all(type(w) is int for w in res["waits"]), res
    assert res["last"][0] == "TransientError" and res["waits"][0] >= 30, res
    assert len(srv.seen) == 1


def test_dns_failure_is_not_called_a_tls_error(runner, flash):
    write_config(flash, dict(config(1), token_url="http://iotauth-no-such-host.invalid/t"))
    res = runner.run(RUN, heap="64k")
    kind, msg = res["e"][:2]
    assert kind == "TransientError" and "cannot resolve iotauth-no-such-host.invalid" in msg
    assert "TLS" not in msg
