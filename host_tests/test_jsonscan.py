"""The token-response scanner against json.loads: same values for the fields it wants."""

from __future__ import annotations

import json

import pytest

from iotauth.jsonscan import scan

KEYS = (b"access_token", b"expires_in", b"refresh_token", b"exp")


@pytest.mark.parametrize(
    "doc",
    [
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
    ],
)
def test_matches_json(doc):
    for text in (
        json.dumps(doc),
        json.dumps(doc, indent=2),
        json.dumps(doc, separators=(",", ":")),
    ):
        out = scan(memoryview(text.encode()), KEYS, [None] * len(KEYS))
        want = [doc.get(k.decode()) for k in KEYS]
        want = [None if isinstance(v, (dict, list)) else v for v in want]
        assert out == want


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
        b"<html>",
        b'{"access_token": tru}',
    ],
)
def test_malformed_raises_value_error(bad):
    with pytest.raises(ValueError):
        scan(bad, KEYS, [None] * len(KEYS))


def test_same_on_the_unix_port(flash):
    from harness import Runner

    docs = [
        {"access_token": 'q"uo\\te\u00e9', "expires_in": 3600, "n": [1, {"x": "]"}]},
        {"expires_in": "77", "refresh_token": "r", "exp": 1700000000},
    ]
    (flash / "docs.json").write_text(json.dumps([json.dumps(d) for d in docs]))
    res = Runner("micropython", flash).run("""
from iotauth.jsonscan import scan
for d in json.load(open("docs.json")):
    out("r", scan(memoryview(d.encode()), (b"access_token", b"expires_in", b"refresh_token",
                                           b"exp"), [None] * 4))
""")
    assert res["r"] == [[d.get(k.decode()) for k in KEYS] for d in docs]


@pytest.mark.parametrize(
    "value,life",
    [
        (3600, 3600),
        ("3600", 3600),
        (" 3600 ", 3600),
        ("3600.0", 3600),
        (3600.9, 3600),
        (0, None),
        (-5, None),
        ("-5", None),
        ("soon", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        (float("inf"), 315360000),
        (10**15, 315360000),
        ("1e20", 315360000),
    ],
)
def test_expires_in_as_platforms_send_it(value, life):
    from iotauth.token import life as _life

    assert _life(value) == life
