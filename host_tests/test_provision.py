"""tools/provision driven as a new user would: good and bad input, secrets only from the
environment or a prompt, a real token endpoint, a fleet CSV, and the MFA login."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_config
from harness import ROOT
from presets import config


def provision(*args, stdin="", env=None, cwd=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("IOTAUTH_")}
    e.update(env or {})
    e["PYTHONPATH"] = str(ROOT)  # as when run from the repository, wherever the files are
    return subprocess.run(
        [sys.executable, "-m", "tools.provision", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=e,
        timeout=60,
    )


def no_traceback(r):
    assert "Traceback" not in r.stderr + r.stdout


def test_new_from_env(tmp_path):
    out = tmp_path / "auth.json"
    r = provision(
        "new",
        "devensoft",
        "--client-id",
        "dv-client",
        "--token-url",
        "https://auth.example.com/token",
        "--set",
        "insecure_tls=true",
        "--out",
        str(out),
        env={"IOTAUTH_CLIENT_SECRET": "s3cret-dv"},
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == {
        "preset": "devensoft",
        "client_id": "dv-client",
        "client_secret": "s3cret-dv",
        "token_url": "https://auth.example.com/token",
        "insecure_tls": True,
    }
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "s3cret-dv" not in r.stdout + r.stderr


def test_new_from_scripted_prompt(tmp_path):
    out = tmp_path / "auth.json"
    r = provision("new", "allthingstalk-device", "--out", str(out), stdin="maker:tok-123\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["token"] == "maker:tok-123"
    assert "maker:tok-123" not in r.stdout + r.stderr and "token: " in r.stderr


@pytest.mark.parametrize(
    "args,words",
    [
        (["new", "devensoft", "--set", "client_secret=abc"], "never on the command line"),
        (["new", "nope"], "unknown preset"),
        (["new", "devensoft", "--client-id", "x"], "'token_url' is required"),
        (
            ["new", "modulariot", "--client-id", "x", "--set", "insecure_tls=true"],
            "'audience' is required",
        ),
        (["new", "devensoft", "--set", "oops"], "FIELD=VALUE"),
        (["check", "missing.json"], "cannot read"),
        (["fleet", "missing.csv", "--preset", "devensoft"], "cannot read"),
        (["login", "devensoft"], "login is for presets"),
        (["new", "devensoft", "--ca", "nope.pem"], "--ca nope.pem: no such file (looked for /"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(args, words, tmp_path):
    r = provision(*args, env={"IOTAUTH_CLIENT_SECRET": "s3cret-zz"}, cwd=tmp_path)
    assert r.returncode == 1 and words in r.stderr, r.stderr
    assert r.stderr.startswith("provision: ") and "s3cret-zz" not in r.stderr
    no_traceback(r)


def test_new_ca_is_relative_to_where_the_user_stands(tls_server, certs, tmp_path):
    # --ca ca.pem with --out elsewhere: the CA is the one here, not one beside --out.
    here = tmp_path / "here"
    here.mkdir()
    (here / "ca.pem").write_bytes(certs.ca_pem.read_bytes())
    out = tmp_path / "configs" / "dev1.json"
    r = provision(
        "new", "devensoft", "--client-id", "dv-client", "--token-url", tls_server.url("/token"),
        "--ca", "ca.pem", "--out", str(out), env={"IOTAUTH_CLIENT_SECRET": "dv-secret"},
        cwd=here,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["ca"] == str(here / "ca.pem")
    assert provision("check", str(out)).returncode == 0  # verified TLS with that CA


def test_login_takes_a_ca(tls_server, certs, tmp_path):
    out = tmp_path / "auth.json"
    r = provision(
        "login", "allthingstalk-user", "--username", "att-user", "--token-url",
        tls_server.url("/login"), "--ca", str(certs.ca_pem), "--out", str(out),
        stdin="att-pass\n123456\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["ca"] == str(certs.ca_pem)


def test_new_with_no_answer_at_the_prompt(tmp_path):
    r = provision("new", "devensoft", "--client-id", "x", "--out", str(tmp_path / "a.json"))
    assert r.returncode == 1 and "no answer" in r.stderr
    no_traceback(r)


def test_check_against_the_token_endpoint(server, tmp_path):
    good = write_config(tmp_path, config("mydevices-user", server))
    r = provision("check", str(good))
    assert r.returncode == 0 and "issued a token with a refresh token" in r.stdout, r.stderr
    assert [q["grant"] for q in server.state.requests] == ["password"]
    bad = write_config(
        tmp_path, config("mydevices-admin", server, client_secret="wrong-1"), "bad.json"
    )
    r = provision("check", str(bad))
    assert r.returncode == 1 and "HTTP 401 unauthorized_client" in r.stderr
    assert "wrong-1" not in r.stderr
    (tmp_path / "broken.json").write_text('{\n  "preset": "devensoft",\n}\n')
    r = provision("check", str(tmp_path / "broken.json"))
    assert r.returncode == 1 and "not valid JSON" in r.stderr
    assert "at line 3 column 1" in r.stderr  # where: the trailing comma's object ends
    no_traceback(r)


def test_check_verifies_tls(tls_server, certs, tmp_path):
    good = write_config(tmp_path, config("devensoft", tls_server, certs))
    assert provision("check", str(good)).returncode == 0
    other = tmp_path / "other-ca.pem"
    from tools.tokenserver.certs import Certs

    Certs(tmp_path / "o", ["localhost"]).ca_pem.replace(other)
    bad = write_config(tmp_path, config("devensoft", tls_server, ca=str(other)), "bad.json")
    r = provision("check", str(bad))
    assert r.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in r.stderr


def fleet(csv, out, token_url):
    return provision(
        "fleet",
        str(csv),
        "--preset",
        "devensoft",
        "--out-dir",
        str(out),
        "--set",
        f"token_url={token_url}",
        "--set",
        "insecure_tls=true",
    )


def test_fleet(tmp_path):
    csv = tmp_path / "devices.csv"
    csv.write_text("device,client_id,client_secret\nsensor-01,c1,sec-1\nsensor-02,c2,sec-2\n")
    out = tmp_path / "configs"
    r = fleet(csv, out, "https://auth.example.com/token")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sensor-01.json", "sensor-02.json"]
    assert json.loads((out / "sensor-02.json").read_text())["client_secret"] == "sec-2"
    assert "sec-1" not in r.stdout + r.stderr
    csv.write_text("device,client_id\nsensor-01,c1\n")  # no secret for this preset
    r = fleet(csv, out, "https://a.example/t")
    assert r.returncode == 1 and "devices.csv:2: device sensor-01" in r.stderr
    no_traceback(r)


def att_login(server, out, answers):
    """`provision login` for AllThingsTalk, the prompts answered by `answers`."""
    return provision(
        "login",
        "allthingstalk-user",
        "--username",
        "att-user",
        "--token-url",
        server.url("/login"),
        "--set",
        "insecure_http=true",
        "--out",
        str(out),
        stdin=answers,
    )


def test_login_allthingstalk_mfa_then_the_device_uses_the_refresh_token(server, tmp_path, flash):
    out = flash / "auth.json"
    r = att_login(server, out, "att-pass\n123456\n")
    assert r.returncode == 0, r.stderr
    assert "att-pass" not in r.stdout + r.stderr
    cfg = json.loads(out.read_text())
    assert cfg["grant"] == "refresh_token" and cfg["refresh_token"] and "password" not in cfg
    # The password step answers with an MFA challenge; the code step issues the token.
    assert [q["grant"] for q in server.state.requests] == ["mfa"] and not server.state.mfa
    from harness import Runner

    api = server.url("/api/resource")
    script = f"import iotauth\na = iotauth.load()\nr = a.request('GET', {api!r})\n"
    res = Runner("micropython", flash).run(script + "out('s', r.status_code)\n")
    assert res["s"] == 200
    assert server.state.requests[-1]["grant"] == "refresh_token"


def test_check_keeps_a_rotated_refresh_token(server, tmp_path, flash):
    # README order: login, check, deploy. AllThingsTalk rotates at every refresh and revokes
    # the old token: check must leave the new one in the file, or the board gets a dead one.
    out = flash / "auth.json"
    assert att_login(server, out, "att-pass\n123456\n").returncode == 0
    first = json.loads(out.read_text())["refresh_token"]
    for _ in range(2):
        r = provision("check", str(out))
        assert r.returncode == 0, r.stderr
        assert "rotated" in r.stdout
    kept = json.loads(out.read_text())["refresh_token"]
    assert kept != first and kept not in r.stdout + r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    from harness import Runner

    res = Runner("micropython", flash).run(
        "import iotauth\nout('t', len(iotauth.load().token()))\n"
    )
    assert res["t"] > 0
    assert [q["status"] for q in server.state.requests][-1] == 200


def test_check_says_to_log_in_again_when_the_refresh_token_is_revoked(server, tmp_path):
    out = tmp_path / "auth.json"
    assert att_login(server, out, "att-pass\n123456\n").returncode == 0
    from tools.tokenserver.server import apply_control

    apply_control(server.state, {"revoke": True})
    r = provision("check", str(out))
    assert r.returncode == 1 and "invalid_grant" in r.stderr
    assert "run `provision login allthingstalk-user` again" in r.stderr


def test_login_wrong_code(server, tmp_path):
    r = att_login(server, tmp_path / "a.json", "att-pass\n000000\n")
    assert r.returncode == 1 and "invalid_grant" in r.stderr
    assert not (tmp_path / "a.json").exists()


def test_login_mydevices_user(server, tmp_path):
    out = tmp_path / "auth.json"
    r = provision(
        "login",
        "mydevices-user",
        "--username",
        "user@example.com",
        "--client-id",
        "md-user",
        "--token-url",
        server.url("/v1.0/oauth/token"),
        "--set",
        "insecure_http=true",
        "--out",
        str(out),
        env={"IOTAUTH_PASSWORD": "userpass", "IOTAUTH_CLIENT_SECRET": "md-user-secret"},
    )
    assert r.returncode == 0, r.stderr
    cfg = json.loads(out.read_text())
    assert cfg["grant"] == "refresh_token" and "password" not in cfg


def test_push_to_a_virtual_board(tls_server, certs, tmp_path):
    # The CA named by a host path goes on the board beside auth.json, named by its file name
    # there, exactly as `make deploy` puts it (one shared way: provision.board_config).
    from test_board import MP_SHIM

    from tools.vboard import VirtualBoard

    flash = tmp_path / "board"
    flash.mkdir()
    vb = VirtualBoard(flash, [MP_SHIM], run_main=False).start()
    try:
        cfg = write_config(tmp_path, config("devensoft", tls_server, certs))
        assert Path(json.loads(cfg.read_text())["ca"]).is_absolute()
        r = provision("push", str(cfg), "--port", vb.port)
        assert r.returncode == 0, r.stderr
        on_board = json.loads((flash / "auth.json").read_text())
        assert on_board == dict(json.loads(cfg.read_text()), ca="ca.pem")
        assert (flash / "ca.pem").read_bytes() == certs.ca_pem.read_bytes()
        from harness import Runner

        res = Runner("micropython", flash).run(
            "import iotauth\nout('t', len(iotauth.load().token()))\n"
        )
        assert res["t"] > 100  # verified TLS from the board's own files
    finally:
        vb.close()
