"""The device authorization grant (RFC 8628) on both runtimes against the Authlib server:
approval after pending answers, slow_down honoured (request times checked), denial, expiry,
and the result persisted across a restart."""

from __future__ import annotations

import pytest

from conftest import write_config

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"

FLOW = """
import iotauth, time
a = iotauth.load()
a.on_code = lambda uri, code, full: out("code", [uri, code, full])
for i in range(20):
    try:
        out("token", a.token())
        break
    except iotauth.TransientError as e:
        out("wait", e.retry_after)
        out("poll", a.poll())
        time.sleep(e.retry_after)
    except iotauth.CredentialsError as e:
        out("refused", err(e))
        break
"""


def device_config(server, **extra):
    c = {
        "grant": "device_code",
        "client_id": "tv-1",
        "scope": "read",
        "token_url": server.url("/oauth/token"),
        "device_authorization_url": server.url("/oauth/device"),
        "insecure_http": True,
    }
    c.update(extra)
    return c


def polls(server):
    return [r for r in server.state.requests if r["grant"] == DEVICE]


def test_pending_slow_down_then_approved_and_persisted(runner, server, flash):
    server.state.device_interval = 1
    server.state.device_script = ["pending", "slow_down", "pending", "approve"]
    write_config(flash, device_config(server))
    res = runner.run(FLOW, timeout=120)
    uri, code, full = res["code"]
    assert uri.endswith("/device") and code and full.endswith("user_code=" + code)
    assert res["token"].startswith("eyJ")
    assert res["wait"] == [1, 1, 6, 6]
    times = [r["time"] for r in polls(server)]
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.95 and gaps[1] >= 5.95 and gaps[2] >= 5.95, gaps
    # Restart: the token and its refresh token came from flash, no new authorization.
    again = runner.run(
        "import iotauth\na = iotauth.load()\nout('t', a.token())\n"
        "a.invalidate()\nout('t2', a.token())\n"
    )
    assert again["t"] == res["token"] and again["t2"] != res["token"]
    assert server.state.requests[-1]["grant"] == "refresh_token"
    assert len(polls(server)) == 4


@pytest.mark.parametrize(
    "answer,error", [("denied", "access_denied"), ("expired", "expired_token")]
)
def test_denied_or_expired(answer, error, runner, server, flash):
    server.state.device_interval = 1
    server.state.device_script = ["pending", answer]
    write_config(flash, device_config(server))
    res = runner.run(FLOW, timeout=60)
    assert res["refused"][0] == "CredentialsError" and res["refused"][3] == error
    assert "token" not in res
    assert len(polls(server)) == 2


def test_code_runs_out_and_a_new_one_is_asked_for(runner, server, flash):
    server.state.device_interval = 1
    server.state.device_expires_in = 2  # shorter than the polling takes
    server.state.device_script = ["pending", "pending", "pending", "approve"]
    write_config(flash, device_config(server))
    res = runner.run(FLOW, timeout=60)
    codes = [c[1] for c in res["code"]]
    assert res["token"] and len(codes) >= 2 and len(set(codes)) == len(codes)
    assert len(server.state.devices) == len(codes)  # each code asked for anew


def test_refused_device_authorization_echoing_a_secret(runner, server, flash, monkeypatch):
    import tools.tokenserver.server as srv

    real = srv.create_app

    def app_with_echo(state):
        app = real(state)

        @app.before_request
        def echo():
            from flask import request

            if request.path == "/oauth/device":
                return srv._json(
                    400,
                    {
                        "error": "invalid_client",
                        "error_description": "bad secret " + request.form.get("client_secret", ""),
                    },
                )

        return app

    monkeypatch.setattr(srv, "create_app", app_with_echo)
    s = srv.serve(srv.State())
    try:
        write_config(
            flash, device_config(s, client_id="device-1", client_secret="device-1-secret")
        )
        res = runner.run(FLOW, timeout=60)
    finally:
        s.close()
    kind, msg, _, error, desc = res["refused"]
    assert kind == "CredentialsError" and error == "invalid_client"
    assert "device-1-secret" not in repr(res) and desc == "bad secret ***"
