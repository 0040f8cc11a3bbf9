"""Every ConfigError: the file and the field named, no secret value in the message."""

from __future__ import annotations

import json

import pytest

S = {
    "client_secret": "SECRET-cs-1",
    "password": "SECRET-pw-2",
    "refresh_token": "SECRET-rt-3",
    "token": "SECRET-tk-4",
}
CC = {
    "grant": "client_credentials",
    "token_url": "http://127.0.0.1:9/token",
    "client_id": "dev",
    "client_secret": S["client_secret"],
    "insecure_http": True,
}

# (case, config or raw file text, the field the message must name)
CASES = [
    ("missing file", None, "cannot read"),
    ("not json", "{grant: static", "not valid JSON"),
    # MicroPython's json takes these; the host's does not: the device must not either
    ("trailing comma", '{"grant": "static", "token": "t",}', "not valid JSON"),
    ("missing comma", '{"grant": "static" "token": "t"}', "not valid JSON"),
    ("not an object", "[1, 2]", "JSON object"),
    ("unknown field", dict(CC, client_secrt="x"), "'client_secrt' is unknown"),
    ("null", dict(CC, scope=None), "'scope'"),
    ("wrong type str", dict(CC, client_secret=12345), "'client_secret' must be a string"),
    ("wrong type int", dict(CC, margin="60"), "'margin' must be an integer"),
    ("bool as int", dict(CC, timeout=True), "'timeout' must be an integer"),
    ("wrong type bool", dict(CC, insecure_http="yes"), "'insecure_http' must be true or false"),
    ("unknown grant", dict(CC, grant="implicit"), "'grant' must be one of"),
    ("no grant", {k: v for k, v in CC.items() if k != "grant"}, "'grant' is required"),
    ("unknown preset", dict(CC, preset="nope"), "'preset' names no known preset"),
    ("client_auth", dict(CC, client_auth="mtls"), "'client_auth' must be one of"),
    ("encoding", dict(CC, encoding="xml"), "'encoding' must be one of"),
    ("transport", dict(CC, transport="curl"), "'transport' must be one of"),
    (
        "no secret",
        {k: v for k, v in CC.items() if k != "client_secret"},
        "'client_secret' is required for grant client_credentials",
    ),
    ("no token_url", {k: v for k, v in CC.items() if k != "token_url"}, "'token_url' is required"),
    ("password grant", dict(CC, grant="password"), "'username' is required for grant password"),
    ("static no token", {"grant": "static"}, "'token' is required for grant static"),
    ("refresh no token", dict(CC, grant="refresh_token"), "'refresh_token' is required"),
    ("negative margin", dict(CC, margin=-1), "'margin' must not be negative"),
    ("zero timeout", dict(CC, timeout=0), "'timeout' must be positive"),
    ("empty header", dict(CC, header=""), "'header' must not be empty"),
    ("http refused", dict(CC, insecure_http=False), "'token_url' uses http://"),
    (
        "https without ca",
        dict(CC, token_url="https://x.example/t"),
        "'token_url' uses https:// without ca",
    ),
    (
        "https via requests",
        dict(CC, token_url="https://x.example/t", transport="requests", ca="auth.json"),
        "'token_url' uses https:// with transport requests",
    ),
    ("bad scheme", dict(CC, token_url="ftp://x/t"), "'token_url' must be an https:// or http://"),
    ("no host", dict(CC, token_url="http:///t"), "'token_url' must be an https:// or http://"),
    ("bad port", dict(CC, token_url="http://h:99999/t"), "'token_url' must be an https://"),
    ("ca missing", dict(CC, token_url="https://x.example/t", ca="nope.pem"), "'ca' names a file"),
    (
        "modulariot audience",
        {
            "preset": "modulariot",
            "client_id": "c",
            "client_secret": S["client_secret"],
            "insecure_tls": True,
        },
        "'audience' is required by preset modulariot",
    ),
    (
        "mydevices realm",
        {
            "preset": "mydevices-admin",
            "client_id": "c",
            "client_secret": S["client_secret"],
            "insecure_tls": True,
        },
        "'realm' is required",
    ),
    (
        "devensoft url",
        {"preset": "devensoft", "client_id": "c", "client_secret": S["client_secret"]},
        "'token_url' is required",
    ),
    (
        "user password",
        {
            "preset": "mydevices-user",
            "client_id": "c",
            "client_secret": "s",
            "username": "u",
            "insecure_tls": True,
        },
        "'password' is required",
    ),
    (
        "att user",
        {"preset": "allthingstalk-user", "insecure_tls": True, "password": S["password"]},
        "'refresh_token' is required",
    ),
    (
        # shared/platforms/mydevices.txt: client id, client secret, user name and password
        "mydevices-user secret",
        {
            "preset": "mydevices-user",
            "client_id": "c",
            "username": "u",
            "password": S["password"],
            "insecure_tls": True,
        },
        "'client_secret' is required by preset mydevices-user",
    ),
    (
        "mydevices-user refresh secret",
        {
            "preset": "mydevices-user",
            "grant": "refresh_token",
            "client_id": "c",
            "refresh_token": S["refresh_token"],
            "insecure_tls": True,
        },
        "'client_secret' is required by preset mydevices-user",
    ),
    (
        "modulariot secret",
        {"preset": "modulariot", "client_id": "c", "audience": "a", "insecure_tls": True},
        "'client_secret' is required",
    ),
    (
        "ca not a certificate",
        dict(CC, token_url="https://x.example/t", ca="cases.json"),
        "'ca' names a file that holds no certificate",
    ),
    ("api_ca missing", dict(CC, api_ca="nope.der"), "'api_ca' names a file that cannot be read"),
    ("resource type", dict(CC, resource=1), "'resource' must be a string"),
]

SCRIPT = """
import iotauth
cases = json.load(open("cases.json"))
for name, path in cases:
    try:
        iotauth.load(path, "auth.state")
        out(name, None)
    except iotauth.ConfigError as e:
        out(name, ["ConfigError", str(e), repr(e)])
    except Exception as e:
        out(name, [type(e).__name__, str(e), repr(e)])
"""


def test_config_errors(runner, flash):
    cases = []
    for i, (name, cfg, _) in enumerate(CASES):
        path = f"c{i}.json"
        if cfg is not None:
            text = cfg if isinstance(cfg, str) else json.dumps(cfg)
            (flash / path).write_text(text)
        cases.append([name, path])
    (flash / "cases.json").write_text(json.dumps(cases))
    (flash / "auth.json").write_text("{}")
    res = runner.run(SCRIPT)
    for i, (name, _, expected) in enumerate(CASES):
        got = res[name]
        assert got is not None, f"{name}: no error"
        kind, msg, rep = got
        assert kind == "ConfigError", f"{name}: {kind}: {msg}"
        assert msg.startswith(f"c{i}.json: "), f"{name}: file not named: {msg}"
        assert expected in msg, f"{name}: {msg}"
        for secret in S.values():
            assert secret not in msg and secret not in rep, f"{name} leaks a secret"


@pytest.mark.parametrize(
    "cfg",
    [
        dict(CC, preset="devensoft"),
        {"preset": "allthingstalk-device", "token": "maker:x", "header": "X-Auth", "scheme": ""},
        dict(CC, token_url="https://[::1]:8443/t", insecure_tls=True),
    ],
)
def test_good_configs_load(cfg, runner, flash):
    (flash / "auth.json").write_text(json.dumps(cfg))
    res = runner.run("import iotauth\na = iotauth.load()\nout('repr', repr(a))\n")
    assert res["repr"].startswith("<Agent grant=")
