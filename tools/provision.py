"""provision: makes, checks and installs iotauth configs (auth.json).

    python -m tools.provision new PRESET [--out auth.json] [--client-id ID] [--set FIELD=VALUE]
    python -m tools.provision new PRESET --circuitpython [--out settings.toml] [...]
    python -m tools.provision new PRESET --client-auth tls [--csr | --cert CERT --key KEY]
    python -m tools.provision new PRESET --client-auth jwt [...]
    python -m tools.provision check [auth.json]
    python -m tools.provision push [auth.json] --port /dev/ttyACM0
    python -m tools.provision fleet devices.csv --preset PRESET --out-dir configs [--set ...]
    python -m tools.provision login PRESET [--username NAME] [--ca CA] [--out F] [--set ...]

Secrets (client_secret, password, refresh_token, token) never come from the command line:
they are read from the environment (IOTAUTH_CLIENT_SECRET, IOTAUTH_PASSWORD,
IOTAUTH_REFRESH_TOKEN, IOTAUTH_TOKEN) or asked for at a hidden prompt, and never printed.
``login`` runs a password login (with AllThingsTalk's MFA step) on the host and writes only
the resulting refresh token, so the device never holds the password.

``--client-auth tls`` (RFC 8705 mutual TLS) makes the device's EC P-256 key, and a
self-signed certificate to register with the client (``self_signed_tls_client_auth``), or
with ``--csr`` a signing request for the platform's device CA (``tls_client_auth``); then
``--cert`` the certificate the CA issued and ``--key`` that key. Key and certificate are DER
files beside the config (mode 600); no client secret is asked for. ``--client-auth jwt``
(client_secret_jwt) keeps the secret on the device: requests carry an assertion signed with it.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools import x509  # noqa: E402
from tools.fwimport import firmware_config, firmware_grant, firmware_presets  # noqa: E402

SECRETS = ("client_secret", "password", "refresh_token", "token")
ENV = {k: "IOTAUTH_" + k.upper() for k in SECRETS}
NEEDS_SECRET = {
    "client_credentials": ("client_secret",),
    "password": ("client_secret", "password"),
    "refresh_token": ("refresh_token",),
    "static": ("token",),
    "device_code": (),
}


# A top-level "KEY =" line of a settings.toml.
LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


class ToolError(Exception):
    pass


class State:
    """What every command shares: where prompts come from and go to."""

    def __init__(self, stdin=sys.stdin, stderr=sys.stderr):
        self.stdin = stdin
        self.stderr = stderr

    def ask(self, prompt: str, secret: bool) -> str:
        """A hidden prompt on a terminal; a line of stdin when scripted. Never echoed."""
        if secret and self.stdin.isatty():
            value = getpass.getpass(prompt, stream=self.stderr)
        else:
            self.stderr.write(prompt)
            self.stderr.flush()
            value = self.stdin.readline()
            if not value:
                raise ToolError(f"no answer to '{prompt.strip()}' (stdin closed)")
        value = value.strip()
        if not value:
            raise ToolError(f"an empty answer to '{prompt.strip()}'")
        return value


# Config making and checking


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise ToolError(f"--set wants FIELD=VALUE, got {key!r}")
        if key in SECRETS:
            raise ToolError(
                f"{key} is a secret: give it in ${ENV[key]} or at the prompt, "
                "never on the command line"
            )
        try:
            out[key] = (
                json.loads(value) if value in ("true", "false") or value.isdigit() else value
            )
        except ValueError:
            out[key] = value
    return out


def ca_path(given: str) -> str:
    """--ca as the user meant it: relative to where they stand (not to --out), kept absolute
    so that deploy and push find it; a missing file named with the path looked at."""
    p = Path(given).expanduser().resolve()
    if not p.is_file():
        raise ToolError(f"--ca {given}: no such file (looked for {p})")
    return str(p)


def grant_of(cfg: dict) -> str:
    preset = firmware_presets().get(cfg.get("preset", ""), {})
    return cfg.get("grant") or preset.get("grant") or ""


def secrets_needed(cfg: dict) -> tuple[str, ...]:
    need = NEEDS_SECRET.get(grant_of(cfg), ())
    how = cfg.get("client_auth")
    if how == "tls":  # the key in the handshake proves the client: no secret
        return tuple(k for k in need if k != "client_secret")
    if how == "jwt" and "client_secret" not in need:  # the assertion is signed with it
        return ("client_secret", *need)
    return need


def fill_secrets(state: State, cfg: dict, env=os.environ) -> None:
    for k in secrets_needed(cfg):
        if cfg.get(k):
            continue
        if env.get(ENV[k]):
            cfg[k] = env[ENV[k]]
        else:
            cfg[k] = state.ask(f"{k}: ", secret=True)


# The fields that name a file, which goes to the board beside auth.json.
FILES = ("ca", "api_ca", "cert", "key")


def validate(cfg: dict, name: str, base: Path) -> Any:
    """Checks cfg with the agent's own rules; returns the firmware's Config object."""
    cm = firmware_config()
    check = dict(cfg)
    for field in FILES:
        if check.get(field) and not Path(check[field]).is_absolute():
            check[field] = str(base / check[field])
    try:
        return cm.parse(check, name)
    except cm.ConfigError as e:
        raise ToolError(str(e)) from None


def write_config(cfg: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def toml_value(v: Any) -> str:
    """A field's value as CircuitPython's settings.toml takes it: a basic string or an integer
    (it has no booleans: "true"/"false", which the agent reads as a bool field's)."""
    if isinstance(v, bool):
        return '"true"' if v else '"false"'
    if isinstance(v, int):
        return str(v)
    esc = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return (
        '"'
        + "".join(
            esc.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
            for c in str(v)
        )
        + '"'
    )


def settings_lines(text: str) -> dict[str, str]:
    """KEY -> its whole line, for the top-level keys of a settings.toml."""
    keys = {}
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            break  # a table: CircuitPython reads nothing below it
        m = LINE.match(line)
        if m:
            keys[m.group(1)] = line
    return keys


def merge_settings(old: str, new: str) -> str:
    """old with new's keys set: replaced where old has them, appended otherwise."""
    given = settings_lines(new)
    out, seen = [], set()
    for line in old.splitlines():
        m = LINE.match(line)
        if m and m.group(1) in given:
            if m.group(1) not in seen:
                out.append(given[m.group(1)])
                seen.add(m.group(1))
            continue
        out.append(line)
    out += [line for k, line in given.items() if k not in seen]
    return "\n".join(out) + "\n"


def write_settings(cfg: dict, out: Path) -> None:
    """cfg as IOTAUTH_<FIELD> lines, merged into out (a key set here replaces its old line;
    Wi-Fi and every other line stay), mode 600 as auth.json."""
    lines = [f"IOTAUTH_{k.upper()} = {toml_value(v)}" for k, v in cfg.items()]
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    text = merge_settings(old, "\n".join(lines))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise ToolError(f"{path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise ToolError(
            f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    if not isinstance(data, dict):
        raise ToolError(f"{path}: must hold a JSON object")
    return data


def board_config(path: Path, tmp: Path) -> tuple[Path, list[Path]]:
    """Checks auth.json with the agent's own rules; returns the file to put on the board
    (its ``ca``, ``api_ca``, ``cert`` and ``key`` pointing at the flash root, where those
    files go) and the files. ``make deploy`` and ``provision push`` both put a config on a
    board this way."""
    cfg = load_json(path)
    validate(cfg, path.name, path.parent)
    cas: list[Path] = []
    moved = False
    for field in FILES:
        ca = cfg.get(field)
        if not ca:
            continue
        ca_path = Path(ca) if Path(ca).is_absolute() else path.parent / ca
        if ca_path not in cas:
            cas.append(ca_path)
        if Path(ca).name != ca:
            cfg[field] = Path(ca).name  # on the board the CA sits beside auth.json
            moved = True
    if moved:
        path = tmp / "auth.json"
        path.write_text(json.dumps(cfg))
    return path, cas


# Talking to the token endpoint from the host


def token_url(conf) -> str:
    """The token endpoint's URL (realm filled in) from what the agent keeps of it: its parts."""
    tls, _, _, path, host = conf.token_url_parts[:5]
    return ("https://" if tls else "http://") + host + path.decode()


def tls_context(conf) -> ssl.SSLContext | None:
    if not conf.token_url_parts[0]:
        return None
    if conf.ca:
        ctx = ssl.create_default_context()
        data = Path(conf.ca).read_bytes()
        if data.startswith(b"-----"):
            ctx.load_verify_locations(cadata=data.decode())
        else:
            ctx.load_verify_locations(cadata=data)
    else:
        ctx = ssl._create_unverified_context()  # insecure_tls, as the config says
    if conf.cert:  # mutual TLS: the device's own certificate, as the board presents it
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = x509.pem_files(Path(conf.cert), Path(conf.key), Path(tmp))
            ctx.load_cert_chain(str(cert), str(key))
    return ctx


def send(conf, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """POSTs body; returns (status, the JSON object answered or {}). TLS as the config says."""
    req = urllib.request.Request(
        url, data=body, method="POST", headers=dict(headers, Accept="application/json")
    )
    try:
        with urllib.request.urlopen(req, timeout=conf.timeout, context=tls_context(conf)) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise ToolError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {}


def post_form(conf, url: str, form: dict[str, str]) -> tuple[int, dict]:
    data = urllib.parse.urlencode(form).encode()
    return send(conf, url, data, {"Content-Type": "application/x-www-form-urlencoded"})


def token_request(conf) -> tuple[int, dict]:
    """The agent's own first token request (firmware grant.request), sent from the host."""
    grant = firmware_grant()
    kind = conf.grant
    secret = conf.refresh_token if kind == "refresh_token" else None
    pieces, ctype, auth = grant.request(conf, kind, secret)
    body = b"".join(p if isinstance(p, bytes) else p.encode() for p in pieces)
    headers = {"Content-Type": ctype.decode()}
    if auth:
        headers["Authorization"] = auth.decode()
    return send(conf, token_url(conf), body, headers)


def refusal(status: int, body: dict) -> str:
    err = body.get("error")
    desc = body.get("error_description")
    return f"HTTP {status}" + (f" {err}" if err else "") + (f": {desc}" if desc else "")


# Commands


def do_new(state: State, args) -> int:
    presets = firmware_presets()
    if args.preset not in presets:
        raise ToolError(f"unknown preset {args.preset!r}; known: {', '.join(presets)}")
    cfg: dict[str, Any] = {"preset": args.preset}
    for flag in ("client_id", "token_url", "realm", "scope", "audience", "username"):
        value = getattr(args, flag)
        if value:
            cfg[flag] = value
    if args.ca:
        cfg["ca"] = ca_path(args.ca)
    if args.client_auth:
        cfg["client_auth"] = args.client_auth
    cfg.update(parse_sets(args.set))
    out = Path(args.out or ("settings.toml" if args.circuitpython else "auth.json"))
    if cfg.get("client_auth") == "tls":
        if device_identity(cfg, args, out.parent):
            return 0  # a CSR made: the config waits for the certificate the CA issues
    elif args.csr or args.cert or args.key:
        raise ToolError("--csr, --cert and --key go with --client-auth tls")
    fill_secrets(state, cfg)
    validate(cfg, out.name, out.parent)
    if args.circuitpython:
        write_settings(cfg, out)
    else:
        write_config(cfg, out)
    how = {"tls": ", mutual TLS", "jwt": ", client_secret_jwt"}.get(cfg.get("client_auth"), "")
    print(f"provision: wrote {out} (preset {args.preset}, grant {grant_of(cfg)}{how})")
    return 0


def device_identity(cfg: dict, args, where: Path) -> bool:
    """The device's key and certificate for mutual TLS, beside the config, named in cfg.
    True when it made a CSR instead: the platform's device CA issues the certificate."""
    cn = args.subject or cfg.get("client_id")
    if not cn:
        raise ToolError("--client-auth tls needs --client-id (or --subject) to name the device")
    key_file, cert_file = where / "device.key", where / "device.crt"
    if args.cert or args.key:
        if not (args.cert and args.key):
            raise ToolError("--cert and --key go together: the issued certificate and its key")
        cert_file, key_file = Path(args.cert).resolve(), Path(args.key).resolve()
        try:
            der = x509.matching(cert_file, key_file)
        except ValueError as e:
            raise ToolError(f"--cert {args.cert} --key {args.key}: {e}") from None
    else:
        if key_file.exists() and not args.csr:
            raise ToolError(f"{key_file} exists: give it with --key, or move it away")
        key = x509.new_key()
        _private(key_file, x509.key_der(key))
        if args.csr:
            csr = where / "device.csr"
            csr.write_bytes(x509.pem("CERTIFICATE REQUEST", x509.csr(key, cn)))
            print(
                f"provision: wrote the device key {key_file} (mode 600) and the signing "
                f"request {csr} for subject {x509.name(cn).rfc4514_string()}.\n"
                "  Have the platform's device CA issue its certificate, then run\n"
                f"  python -m tools.provision new {args.preset} ... --client-auth tls "
                f"--cert ISSUED.crt --key {key_file}"
            )
            return True
        der = x509.self_signed(key, cn)
        _private(cert_file, der)
        print(
            f"provision: wrote the device key {key_file} and a self-signed certificate "
            f"{cert_file} (DER, mode 600). Register this certificate with client "
            f"{cfg.get('client_id')} (self_signed_tls_client_auth):\n"
            + x509.pem("CERTIFICATE", der).decode().rstrip()
        )
    print(
        f"provision: the device's certificate: subject {x509.subject_dn(der)}, "
        f"SHA-256 thumbprint {x509.thumbprint(der)} (x5t#S256), "
        f"hex {x509.fingerprint(der)}"
    )
    cfg["cert"] = _beside(cert_file, where)
    cfg["key"] = _beside(key_file, where)
    return False


def _beside(path: Path, where: Path) -> str:
    """A file's name as the config holds it: bare beside the config, else absolute."""
    return path.name if path.resolve().parent == where.resolve() else str(path.resolve())


def _private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def do_check(state: State, args) -> int:
    path = Path(args.config)
    cfg = load_json(path)
    conf = validate(cfg, path.name, path.parent)
    print(f"provision: {path} is valid (grant {conf.grant})")
    if conf.grant in ("static", "device_code") or args.offline:
        return 0  # nothing to try from here: a static token, or a person approves on the device
    status, body = token_request(conf)
    if status == 200 and body.get("access_token"):
        life = body.get("expires_in")
        extra = " with a refresh token" if body.get("refresh_token") else ""
        print(
            f"provision: the token endpoint issued a token{extra}"
            + (f", expires in {life} s" if life else "")
        )
        new = body.get("refresh_token")
        if conf.grant == "refresh_token" and isinstance(new, str) and new != cfg["refresh_token"]:
            # The server rotated it and has revoked the one in the file: the file must carry
            # the new one, or the device would get a dead token.
            cfg["refresh_token"] = new
            write_config(cfg, path)
            print(f"provision: the server rotated the refresh token; {path} holds the new one")
        return 0
    hint = ""
    if conf.grant == "refresh_token" and body.get("error") == "invalid_grant":
        preset = f" {cfg['preset']}" if cfg.get("preset") else ""
        hint = f" (revoked or used up: run `provision login{preset}` again)"
    raise ToolError(f"the token endpoint refused: {refusal(status, body)}{hint}")


def do_push(state: State, args) -> int:
    path = Path(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        on_board, cas = board_config(path, Path(tmp))
        cmd = [str(Path(sys.executable).parent / "mpremote"), "connect", args.port, "resume"]
        cmd += ["cp", str(on_board), ":auth.json"]
        for ca in cas:
            cmd += ["+", "cp", str(ca), ":" + ca.name]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise ToolError(f"mpremote could not write to {args.port}")
    names = "".join(f" and {ca.name}" for ca in cas)
    print(f"provision: {path} is on the board at {args.port} as auth.json{names}")
    return 0


def do_fleet(state: State, args) -> int:
    path = Path(args.csv)
    try:
        rows = list(csv.DictReader(path.open(newline="")))
    except OSError as e:
        raise ToolError(f"{path}: cannot read ({e.strerror})") from None
    if not rows:
        raise ToolError(f"{path}: no devices (a header line, then one line per device)")
    if "device" not in rows[0]:
        raise ToolError(f"{path}: needs a 'device' column naming each device")
    base = {"preset": args.preset}
    base.update(parse_sets(args.set))
    out = Path(args.out_dir)
    seen = set()
    for n, row in enumerate(rows, start=2):
        dev = (row.pop("device") or "").strip()
        if not dev or "/" in dev or dev in seen:
            raise ToolError(f"{path}:{n}: missing, repeated or bad device name")
        seen.add(dev)
        cfg = dict(base)
        cfg.update({k: v for k, v in row.items() if k and v})
        try:
            validate(cfg, f"{dev}.json", out)
        except ToolError as e:
            raise ToolError(f"{path}:{n}: device {dev}: {e}") from None
        write_config(cfg, out / f"{dev}.json")
    print(f"provision: wrote {len(rows)} configs to {out}/")
    return 0


def do_login(state: State, args) -> int:
    if args.preset not in ("allthingstalk-user", "mydevices-user"):
        raise ToolError("login is for presets allthingstalk-user and mydevices-user")
    cfg: dict[str, Any] = {"preset": args.preset}
    if args.client_id:
        cfg["client_id"] = args.client_id
    elif args.preset == "allthingstalk-user":
        cfg["client_id"] = "web"
    if args.token_url:
        cfg["token_url"] = args.token_url
    if args.ca:
        cfg["ca"] = ca_path(args.ca)
    cfg.update(parse_sets(args.set))
    url = cfg.get("token_url") or firmware_presets()[args.preset]["token_url"]
    username = args.username or state.ask("username: ", secret=False)
    password = os.environ.get(ENV["password"]) or state.ask("password: ", secret=True)
    form = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "client_id": cfg.get("client_id", ""),
    }
    if args.preset == "mydevices-user":
        secret = os.environ.get(ENV["client_secret"]) or state.ask("client_secret: ", True)
        form["client_secret"] = secret
        cfg["client_secret"] = secret
    # The login's config (without the refresh token yet) must be valid for the agent.
    probe = dict(cfg, grant="refresh_token", refresh_token="x")
    conf = validate(probe, Path(args.out).name, Path(args.out).parent)
    status, body = post_form(conf, url, form)
    if status == 200 and "MfaUid" in body:
        code = state.ask("verification code from the authenticator app: ", secret=False)
        status, body = post_form(
            conf,
            url,
            {
                "grant_type": "mfa",
                "mfa_uid": body["MfaUid"],
                "user_id": str(body["UserId"]),
                "code": code,
                "client_id": cfg.get("client_id", ""),
            },
        )
    if status != 200 or not body.get("refresh_token"):
        raise ToolError(f"login refused: {refusal(status, body)}")
    cfg["grant"] = "refresh_token"
    cfg["refresh_token"] = body["refresh_token"]
    out = Path(args.out)
    validate(cfg, out.name, out.parent)
    write_config(cfg, out)
    print(
        f"provision: logged in; wrote {out} with a refresh token (grant refresh_token); "
        "the password stays off the device"
    )
    return 0


COMMANDS = {
    "new": do_new,
    "check": do_check,
    "push": do_push,
    "fleet": do_fleet,
    "login": do_login,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="provision", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="create auth.json (or settings.toml) from a preset")
    new.add_argument("preset")
    new.add_argument("--out", help="default: auth.json, or settings.toml with --circuitpython")
    new.add_argument(
        "--circuitpython",
        action="store_true",
        help="write IOTAUTH_* lines into settings.toml (CircuitPython's os.getenv) instead",
    )
    for flag in ("client-id", "token-url", "realm", "scope", "audience", "username", "ca"):
        new.add_argument(f"--{flag}")
    new.add_argument(
        "--client-auth",
        choices=("body", "basic", "jwt", "tls"),
        help="tls: mutual TLS with a device key made here; jwt: the secret signs, never sent",
    )
    new.add_argument("--csr", action="store_true", help="tls: a CSR for the device CA")
    new.add_argument("--cert", help="tls: the device certificate the CA issued (DER or PEM)")
    new.add_argument("--key", help="tls: the device key the CSR was made with")
    new.add_argument("--subject", help="tls: the certificate's CN (default: the client id)")
    new.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    chk = sub.add_parser("check", help="validate a config and try its token endpoint")
    chk.add_argument("config", nargs="?", default="auth.json")
    chk.add_argument("--offline", action="store_true", help="validate only")
    push = sub.add_parser("push", help="write a config to a board with mpremote")
    push.add_argument("config", nargs="?", default="auth.json")
    push.add_argument("--port", required=True)
    fleet = sub.add_parser("fleet", help="one config per device from a CSV")
    fleet.add_argument("csv")
    fleet.add_argument("--preset", required=True)
    fleet.add_argument("--out-dir", default="configs")
    fleet.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    login = sub.add_parser("login", help="log in on the host, keep only the refresh token")
    login.add_argument("preset")
    login.add_argument("--username")
    login.add_argument("--client-id")
    login.add_argument("--token-url")
    login.add_argument("--ca", help="CA certificate of an https:// token endpoint")
    login.add_argument("--out", default="auth.json")
    login.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    return p


def main(argv: list[str] | None = None, state: State | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](state or State(), args)
    except ToolError as e:
        print(f"provision: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("provision: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
