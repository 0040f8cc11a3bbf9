"""`make demo`: the agent's whole job, on the real MicroPython unix port, against the local
token server over verified HTTPS. Prints each step in words and exits non-zero if one fails.

Steps: obtain a token, call the protected API, renew it with the refresh token when its short
lifetime runs out, restart the "board" and reuse the persisted token without a request, and
recover from a revoked token through ``request()``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.build import ToolError  # noqa: E402
from tools.build import micropython as find_micropython  # noqa: E402
from tools.tokenserver.certs import Certs  # noqa: E402
from tools.tokenserver.server import State, apply_control, serve  # noqa: E402

LIFETIME = 10  # seconds: short, so the demo sees a renewal


class DemoError(Exception):
    pass


def micropython() -> str:
    try:
        return find_micropython()
    except ToolError as e:
        raise DemoError(str(e)) from None


def board(flash: Path, rounds: int, interval: int = 30) -> str:
    """Runs firmware/main.py on the unix port with flash as its flash: one boot."""
    (flash / "app.json").write_text(
        json.dumps({"api_url": API, "rounds": rounds, "interval": interval})
    )
    env = dict(os.environ, MICROPYPATH=f"{ROOT / 'firmware'}:.frozen")
    p = subprocess.run(
        [micropython(), str(ROOT / "firmware" / "main.py")],
        cwd=flash,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in p.stdout.splitlines():
        print(f"    board | {line}")
    if p.returncode != 0:
        raise DemoError(f"main.py exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def step(n: int, text: str) -> None:
    print(f"\n{n}. {text}")


def check(ok: bool, good: str, bad: str) -> None:
    if not ok:
        raise DemoError(bad)
    print(f"   ok: {good}")


def token_requests(state: State) -> list[str]:
    return [r["grant"] for r in state.requests]


def run() -> None:
    global API
    work = Path(tempfile.mkdtemp(prefix="iotauth-demo-"))
    certs = Certs(work / "certs", ["localhost", "127.0.0.1"])
    state = State()
    state.lifetime = LIFETIME
    srv = serve(state, certs.server_context())
    base = f"https://localhost:{srv.port}"
    API = base + "/api/resource"
    flash = work / "flash"
    flash.mkdir()
    shutil.copy(certs.ca_der, flash / "ca.der")
    cfg = {
        "preset": "mydevices-admin",
        "realm": "demo",
        "client_id": "md-admin",
        "client_secret": "md-admin-secret",
        "ca": "ca.der",
        "token_url": base + "/auth/realms/demo/protocol/openid-connect/token",
    }
    (flash / "auth.json").write_text(json.dumps(cfg, indent=2))
    try:
        print("iotauth demo: the agent on the real MicroPython unix port, a local OAuth2 server")
        print(
            f"  token server: {base} (Authlib; myDevices/Keycloak dialect; TLS verified "
            f"against a local CA)"
        )
        print(f"  board flash:  {flash} (auth.json uses preset mydevices-admin)")
        print(f"  tokens live {LIFETIME} s here so that renewal shows; real ones live a day")

        step(1, "Boot: obtain a token, call the API, keep going until the token needs renewal")
        board(flash, rounds=2)
        grants = token_requests(state)
        check(
            grants[:1] == ["client_credentials"],
            "first token obtained with client credentials (grant_type=client_credentials)",
            f"expected a client_credentials request first, server saw {grants}",
        )
        check(
            grants[1:] == ["refresh_token"],
            "renewed ahead of expiry with the refresh token (grant_type=refresh_token)",
            f"expected one refresh_token renewal, server saw {grants[1:]}",
        )
        calls = [c["ok"] for c in state.api_calls]
        check(
            calls == [True, True], "the protected API accepted both calls", f"API calls: {calls}"
        )
        files = sorted(p.name for p in flash.glob("auth.state*"))
        check(bool(files), f"tokens kept in flash: {', '.join(files)}", "no state in flash")

        step(2, "Reboot: the persisted token is reused, no token request")
        before = len(state.requests)
        board(flash, rounds=1)
        check(
            len(state.requests) == before,
            "the server saw no token request after the reboot",
            f"the server saw {token_requests(state)[before:]}",
        )
        check(state.api_calls[-1]["ok"], "the API accepted the persisted token", "API said 401")

        step(3, "The server revokes every token: request() gets 401, renews once and retries")
        apply_control(state, {"revoke": True})
        before = len(state.requests)
        board(flash, rounds=1)
        grants = token_requests(state)[before:]
        check(
            grants == ["refresh_token", "client_credentials"],
            "refresh token refused (revoked), fell back to client credentials",
            f"server saw {grants}",
        )
        calls = [c["ok"] for c in state.api_calls[-2:]]
        check(
            calls == [False, True],
            "API said 401, then 200 to the new token",
            f"API calls: {calls}",
        )
        print("\ndemo: every step passed")
    finally:
        srv.close()
        shutil.rmtree(work, ignore_errors=True)


API = ""


def main() -> int:
    try:
        run()
    except (DemoError, subprocess.TimeoutExpired) as e:
        print(f"demo: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
