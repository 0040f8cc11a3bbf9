"""JSON on the device: auth.json held to JSON's syntax (jsonscan.check), answers read by the
firmware's json.loads straight from the buffer (endpoint.obj), a JWT's exp claim."""

from __future__ import annotations

import base64
import json

import pytest

from iotauth.endpoint import obj
from iotauth.jsonscan import check, jwt_exp

VALID = [
    {"access_token": "abc", "expires_in": 3600},
    {"expires_in": "3600", "access_token": "a.b.c", "x": {"access_token": "nested"}},
    {"a": [1, {"b": "}"}], "access_token": 'q"uo\\te\u00e9\n', "refresh_token": None},
    {"access_token": "x", "expires_in": 1.5e3, "exp": -4, "t": True, "f": False},
    {},
    {
        "not-before-policy": 0,
        "session_state": "9132",
        ".issued": "Wed, 20 Aug 2014",
        "as:client_id": "web",
        "access_token": "t" * 900,
        "refresh_token": "r" * 700,
    },
]


@pytest.mark.parametrize("doc", VALID)
def test_check_takes_every_json_object(doc):
    for text in (
        json.dumps(doc),
        json.dumps(doc, indent=2),
        json.dumps(doc, separators=(",", ":")),
        json.dumps(doc, ensure_ascii=False) + "\n",
    ):
        check(memoryview(text.encode()))


# No JSON object: what MicroPython's json.loads takes (or an editor leaves) and JSON does not.
@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"[]",
        b"{",
        b'{"a"',
        b'{"a":',
        b'{"a": "x',
        b'{"a" 1}',
        b'{"a": 1 "b": 2}',
        b'{"a": 1,}',
        b'{"a": 1,, "b": 2}',
        b'{, "a": 1}',
        b'{"a": 1} {"b": 2}',
        b'{"a": 1} x',
        b"<html>",
    ],
)
def test_check_refuses_all_but_one_json_object(bad):
    try:
        assert not isinstance(json.loads(bad), dict)
    except ValueError:
        pass
    with pytest.raises(ValueError):
        check(bad)


@pytest.mark.parametrize("doc", VALID)
def test_obj_reads_an_answer_from_a_buffer(doc):
    buf = bytearray(b"HTTP/1.0 200 OK\r\n\r\n" + json.dumps(doc).encode() + b"padding")
    body = memoryview(buf)[19 : len(buf) - 7]
    assert obj(body) == doc


@pytest.mark.parametrize("bad", [b"", b"<html>", b"[1, 2]", b'"text"', b"\xff\xfe{}", b"{"])
def test_obj_is_none_for_what_is_no_json_object(bad):
    assert obj(memoryview(bad)) is None


def _jwt(claims) -> str:
    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    return b64(b'{"alg":"none"}') + "." + b64(json.dumps(claims).encode()) + ".sig"


@pytest.mark.parametrize(
    "tok,exp",
    [
        (_jwt({"exp": 1900000000, "sub": "d"}), 1900000000),
        (_jwt({"sub": "d"}), None),
        (_jwt({"exp": "soon"}), None),
        (_jwt([1, 2]), None),
        ("opaque-token", None),
        ("a.!!!.c", None),
        ("a." + base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".c", None),
    ],
)
def test_jwt_exp(tok, exp):
    assert jwt_exp(tok) == exp


def test_same_on_the_unix_port(flash):
    from harness import Runner

    docs = [
        {"access_token": 'q"uo\\te\u00e9', "expires_in": 3600, "n": [1, {"x": "]"}]},
        {"expires_in": "77", "refresh_token": "r", "exp": 1700000000},
    ]
    (flash / "docs.json").write_text(json.dumps([json.dumps(d) for d in docs]))
    res = Runner("micropython", flash).run("""
from iotauth.endpoint import obj
from iotauth.jsonscan import check
r = []
for d in json.load(open("docs.json")):
    b = bytearray(b"[" + d.encode() + b"]")
    check(memoryview(b)[1:-1])
    r.append(obj(memoryview(b)[1:-1]))
for bad in (b'{"a": 1,}', b'{"a": 1 "b": 2}'):
    try:
        check(bad)
        r.append("taken")
    except ValueError:
        r.append(obj(bad) is not None)  # MicroPython's json takes it: check() is needed
out("r", r)
""")
    assert res["r"] == docs + [True, True]
