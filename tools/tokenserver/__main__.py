"""python -m tools.tokenserver: the development token server on this machine.

Serves HTTPS with a local CA made once and kept in ``--certs`` (its file is printed: put it on
the board and name it as ``ca`` in auth.json; it stays valid across restarts), and plain HTTP
on loopback. Listens on loopback unless ``--host`` says otherwise (``0.0.0.0`` for a board
on the LAN). Prints the development clients, users and static tokens it accepts.

Its HTTPS asks every client for a certificate (RFC 8705 mutual TLS) and takes one issued by
its device CA (``--issue device.csr`` signs a device's CSR and exits) or a self-signed one
registered with a client (``--register device-selfsigned=device.crt``, or at run time
through ``/_control``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tools import x509
from tools.tokenserver.certs import Certs, local_names
from tools.tokenserver.server import FAULT_MODES, State, apply_control, serve


def credentials(state: State) -> list[str]:
    """The development credentials, as a development server prints them at start."""
    lines = ["clients (client_id / client_secret: route, grants):"]
    for c in state.clients.values():
        grants = ", ".join(g.rsplit(":", 1)[-1] for g in c.grant_types)
        if c.subject_dn:
            who = f"(mutual TLS: a device CA certificate for {c.subject_dn})"
        elif "self_signed_tls_client_auth" in c.auth_methods:
            who = f"(mutual TLS: {len(c.thumbprints)} self-signed certificates registered)"
        else:
            who = c.secret or "(public)"
        lines.append(f"  {c.client_id} / {who}: {c.dialect}, {grants}")
    lines.append("users (username / password):")
    for u in state.users.values():
        mfa = f", MFA code {u.mfa_code}" if u.mfa_code else ""
        lines.append(f"  {u.username} / {u.password}{mfa}")
    lines.append("static tokens: " + ", ".join(sorted(state.static)))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tokenserver", description=__doc__.splitlines()[0])
    p.add_argument(
        "--host", default="127.0.0.1", help="HTTPS address (default loopback; 0.0.0.0: all)"
    )
    p.add_argument("--port", type=int, default=8443, help="HTTPS port (default 8443)")
    p.add_argument(
        "--http-port",
        type=int,
        default=8080,
        help="plain HTTP port on 127.0.0.1 (0: none; default 8080)",
    )
    p.add_argument("--certs", default="build/tokenserver", help="where the CA files go")
    p.add_argument("--lifetime", type=int, help="access token lifetime in seconds")
    p.add_argument("--refresh-lifetime", type=int, help="refresh token lifetime in seconds")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="MODE[@CLIENT]",
        help=f"misbehave, for every client or one ({', '.join(FAULT_MODES)})",
    )
    p.add_argument("--retry-after", help="Retry-After value sent with 429/5xx faults")
    p.add_argument("--fault-seconds", type=float, default=30, help="delay of slow/silent")
    p.add_argument("--quiet", action="store_true", help="no request log")
    p.add_argument("--issue", metavar="CSR", help="sign a device's CSR with the device CA, exit")
    p.add_argument("--out", help="with --issue: the certificate file (default: beside the CSR)")
    p.add_argument(
        "--register",
        action="append",
        default=[],
        metavar="CLIENT=CERT",
        help="register a device's self-signed certificate with a client",
    )
    a = p.parse_args(argv)
    certs = Certs(Path(a.certs), local_names())
    if a.issue:
        return issue(certs, Path(a.issue), Path(a.out) if a.out else None)
    state = State(verbose=not a.quiet)
    state.lifetime = a.lifetime
    state.refresh_lifetime = a.refresh_lifetime
    for f in a.fault:
        mode, _, who = f.partition("@")
        if mode not in FAULT_MODES:
            p.error(f"unknown fault mode {mode}")
        apply_control(
            state,
            {
                "fault": {
                    "mode": mode,
                    "client": who or "*",
                    "retry_after": a.retry_after,
                    "seconds": a.fault_seconds,
                }
            },
        )
    running = [serve(state, certs.server_context(clients=True), host=a.host, port=a.port)]
    for r in a.register:
        client, _, cert = r.partition("=")
        try:
            thumb = state.register(client, x509.read_der(Path(cert)))
        except (KeyError, OSError, ValueError) as e:
            p.error(f"--register {r}: {e}")
        print(f"tokenserver: registered {cert} with {client} (x5t#S256 {thumb})")
    if a.http_port:
        running.append(serve(state, host="127.0.0.1", port=a.http_port))
    names = ", ".join(local_names())
    print(f"tokenserver: HTTPS on {a.host}:{running[0].port}, certificate for {names}")
    kept = "made now" if certs.made else "kept from the last start"
    print(f"tokenserver: CA ({kept}) for auth.json 'ca': {certs.ca_der} (DER), {certs.ca_pem}")
    print(f"tokenserver: device CA for mutual TLS (tls_client_auth): {certs.device_ca_pem}")
    if a.http_port:
        print(f"tokenserver: HTTP on 127.0.0.1:{running[1].port} (needs insecure_http)")
    for line in credentials(state):
        print("tokenserver: " + line)
    print(
        'tokenserver: change faults at run time: curl -d \'{"fault": {"mode": "503"}}\' '
        f"http://127.0.0.1:{a.http_port or 8080}/_control"
    )
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for r in running:
            r.close()
    return 0


def issue(certs: Certs, csr: Path, out: Path | None) -> int:
    """The device CA's certificate for a device's CSR, as a platform's console issues it."""
    try:
        der = certs.issue(x509.read_der(csr))
    except (OSError, ValueError) as e:
        print(f"tokenserver: --issue {csr}: {e}", file=sys.stderr)
        return 1
    out = out or csr.with_suffix(".crt")
    out.write_bytes(der)
    print(
        f"tokenserver: issued {out} (DER) for {x509.subject_dn(der)}, "
        f"x5t#S256 {x509.thumbprint(der)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
