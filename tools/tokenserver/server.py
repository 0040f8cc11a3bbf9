"""The token server: Authlib's authorization server behind one Flask route per platform dialect.

Each route speaks what ``shared/platforms/<platform>.txt`` documents: its path, its request
encoding and its response shape. Grants, client authentication and refresh-token rotation are
Authlib's; this module supplies the storage (in memory), the dialects' token shapes and the
fault injection the tests and developers need.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import io
import json
import logging
import secrets
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
    ExpiredTokenError,
    SlowDownError,
)
from flask import Flask, Request, Response, g, jsonify, request
from joserfc.jwk import OctKey
from werkzeug.serving import WSGIRequestHandler, make_server

from tools import x509

DAY = 86400

# Dialect name -> (access lifetime, refresh lifetime or None when no refresh token is issued).
LIFETIMES = {
    "generic": (3600, 30 * DAY),
    "mydevices": (DAY, 2 * DAY),
    "devensoft": (3600, None),
    "yipii": (365 * DAY, None),
    "modulariot": (DAY, None),
    "allthingstalk": (3599, 60 * DAY),
}

MODULARIOT_AUDIENCE = "https://iot.streamhub.cl/v1/asset/track"


@dataclass
class Client(ClientMixin):
    """A registered client; ``secret`` None makes it public (ATT's ``web`` client)."""

    client_id: str
    secret: str | None
    dialect: str
    grant_types: tuple[str, ...]
    scope: str = ""
    # How it may authenticate: its secret in the body or by Basic, (client_secret_jwt,
    # RFC 7523 2.2) an HS256 assertion signed with it, the secret itself never sent, or
    # (RFC 8705 2) the certificate in the TLS handshake: tls_client_auth, one the device CA
    # issued to subject_dn; self_signed_tls_client_auth, one whose thumbprint is registered.
    auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
    subject_dn: str = ""
    thumbprints: tuple[str, ...] = ()

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return ""

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret is not None and hmac.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.secret is None and not self.subject_dn and not self.thumbprints:
            return method == "none"
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class User:
    username: str
    password: str
    mfa_code: str | None = None

    def get_user_id(self) -> str:
        return self.username


@dataclass
class Issued:
    """An access or refresh token the server handed out."""

    token: str
    client_id: str
    user: User | None
    scope: str
    expires_at: float | None
    revoked: bool = False
    x5t: str | None = None  # RFC 8705 3: bound to the client certificate of this thumbprint

    # Authlib's TokenMixin, used by the refresh_token grant.
    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0 if self.expires_at is None else int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class Fault:
    """One injected misbehaviour; ``count`` None means until cleared."""

    mode: str
    count: int | None = None
    retry_after: str | None = None
    seconds: float = 30.0


FAULT_MODES = (
    "500",
    "502",
    "503",
    "429",
    "html",
    "truncated",
    "oversized",
    "no_access_token",
    "expires_string",
    "expires_missing",
    "expires_zero",
    "expires_negative",
    "expires_absurd",
    "chunked",
    "redirect",
    "slow",
    "silent",
    "reset",
    "invalid_grant",
)


TLS_AUTH = ("tls_client_auth",)
SELF_SIGNED_AUTH = ("self_signed_tls_client_auth",)
PEER_CERT = "iotauth.peer_cert"  # the WSGI environ key of the client's certificate (DER)
_BOUND = "iotauth.x5t"  # the thumbprint of the certificate a client authenticated with


def default_clients() -> list[Client]:
    """The development clients, one set per platform dialect (see README)."""
    cc, pw, rt, dc = "client_credentials", "password", "refresh_token", DEVICE_CODE_GRANT_TYPE
    return [
        Client("device-1", "device-1-secret", "generic", (cc, pw, rt, dc), "read write"),
        Client("tv-1", None, "generic", (dc, rt), "read"),
        Client(
            "device-jwt",
            "device-jwt-secret-0123456789abcdef",
            "generic",
            (cc, rt),
            "read",
            ("client_assertion_jwt",),
        ),  # fmt: skip
        Client("device-mtls", None, "generic", (cc, rt), "read", TLS_AUTH, "CN=device-mtls"),
        # Its certificate is registered by whoever makes it (State.register, or /_control).
        Client("device-selfsigned", None, "generic", (cc, rt), "read", SELF_SIGNED_AUTH),
        Client("md-admin", "md-admin-secret", "mydevices", (cc, rt), "profile email"),
        Client("md-user", "md-user-secret", "mydevices", (pw, rt), "profile email"),
        Client("dv-client", "dv-secret", "devensoft", (cc,)),
        Client("yp-client", "yp-secret", "yipii", (cc,), "reports devices"),
        Client("mi-client", "mi-secret", "modulariot", (cc,)),
        Client("web", None, "allthingstalk", (pw, rt, "mfa")),
    ]


def default_users() -> list[User]:
    return [
        User("user@example.com", "userpass"),
        User("att-user", "att-pass", mfa_code="123456"),
    ]


DEFAULT_STATIC = {"maker:device-token-1": "device", "maker:ground-token-1": "ground"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class State:
    """Everything the server knows, guarded by one lock: clients, tokens, faults, the log."""

    def __init__(self, verbose: bool = False):
        self.lock = threading.RLock()
        self.clients = {c.client_id: c for c in default_clients()}
        self.users = {u.username: u for u in default_users()}
        self.static = dict(DEFAULT_STATIC)
        self.access: dict[str, Issued] = {}
        self.refresh: dict[str, Issued] = {}
        self.mfa: dict[str, User] = {}
        self.devices: dict[str, DeviceCredentialDict] = {}  # device_code -> pending login
        self.jtis: set[str] = set()  # client assertions' JWT IDs seen: each is good once
        self.device_grants: dict[str, tuple[User, bool]] = {}  # user_code -> (user, approved)
        self.device_interval = 5
        self.device_expires_in = 600
        # Answers to give device-code polls in turn, whatever the timing: "pending",
        # "slow_down", "denied", "expired" or "approve" (for tests and demos).
        self.device_script: list[str] = []
        self.faults: dict[str, Fault] = {}
        self.lifetime: int | None = None  # overrides every dialect's access lifetime
        self.refresh_lifetime: int | None = None
        self.refresh_escaped = False  # generic refresh tokens with + / = (base64, not url-safe)
        self.requests: list[dict] = []  # every token request, raw, for tests on loopback
        self.api_calls: list[dict] = []
        self.verbose = verbose
        self.key = secrets.token_bytes(32)
        # The server's TLS context when it asks for client certificates: a self-signed one
        # registered is trusted by it from then on.
        self.tls_context = None
        self.device_cas: list[bytes] = []  # what it trusted at start: tls_client_auth's CAs

    def register(self, client_id: str, cert_der: bytes) -> str:
        """A self-signed certificate registered with a client; returns its thumbprint.
        ValueError if it is no certificate."""
        x509.subject_dn(cert_der)
        thumb = x509.thumbprint(cert_der)
        with self.lock:
            c = self.clients[client_id]
            c.thumbprints = (*c.thumbprints, thumb)
            if self.tls_context is not None:
                self.tls_context.load_verify_locations(cadata=cert_der)
        return thumb

    # Token making

    def jwt(self, claims: dict) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "iotauth-dev"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(sig)}"

    def lifetimes(self, dialect: str) -> tuple[int, int | None]:
        access, refresh = LIFETIMES[dialect]
        if self.lifetime is not None:
            access = self.lifetime
        if refresh is not None and self.refresh_lifetime is not None:
            refresh = self.refresh_lifetime
        return access, refresh

    def fault_for(self, client_id: str | None) -> Fault | None:
        with self.lock:
            key = client_id if client_id in self.faults else "*"
            f = self.faults.get(key)
            if f is None:
                return None
            if f.count is not None:
                f.count -= 1
                if f.count <= 0:
                    del self.faults[key]
            return f

    def log(self, line: str) -> None:
        if self.verbose:
            print(f"tokenserver: {line}", file=sys.stderr, flush=True)

    def token_count(self, **match: str) -> int:
        """How many token requests were made whose fields match (e.g. grant="password")."""
        with self.lock:
            return sum(all(r.get(k) == v for k, v in match.items()) for r in self.requests)


def _masked(form: dict[str, str]) -> dict[str, str]:
    # client_assertion too: a signed stand-in for the secret, good for a minute.
    hidden = {
        "client_secret",
        "password",
        "refresh_token",
        "code",
        "device_code",
        "client_assertion",
    }
    return {k: ("***" if k in hidden else v) for k, v in form.items()}


def create_app(state: State) -> Flask:
    """The Flask app: token routes per dialect, the protected API and the control endpoint."""
    app = Flask("iotauth-tokenserver")

    class Server(AuthorizationServer):
        def create_oauth2_request(self, req):
            return FlaskOAuth2Request(req if req is not None else request)

    def query_client(client_id: str) -> Client | None:
        c = state.clients.get(client_id)
        # A client is known only on its own platform's route.
        return c if c is not None and c.dialect == g.dialect else None

    def save_token(token: dict, req) -> None:
        with state.lock:
            now = time.time()
            client = req.client
            user = req.user
            scope = token.get("scope", "")
            life = g.lifetimes
            x5t = request.environ.get(_BOUND)
            state.access[token["access_token"]] = Issued(
                token["access_token"], client.client_id, user, scope, now + life[0], x5t=x5t
            )
            if "refresh_token" in token:
                exp = None if life[1] is None else now + life[1]
                state.refresh[token["refresh_token"]] = Issued(
                    token["refresh_token"], client.client_id, user, scope, exp
                )

    server = Server(app, query_client=query_client, save_token=save_token)

    def generate(
        grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True
    ):
        return shape(
            state,
            g.dialect,
            client,
            user,
            scope,
            include_refresh_token,
            g.lifetimes,
            request.environ.get(_BOUND),
        )

    server.register_token_generator("default", generate)

    auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "none",
        "client_assertion_jwt",
        *TLS_AUTH,
        *SELF_SIGNED_AUTH,
    ]

    class ClientSecretJWT(JWTBearerClientAssertion):
        # client_secret_jwt: the assertion's audience is the token endpoint the client asked
        # (any dialect's URL), signed HS256 with the client's secret; a jti used once only.
        def get_audiences(self):
            return [request.base_url]

        def resolve_client_public_key(self, client):
            return OctKey.import_key(client.secret)

        def validate_jti(self, claims, jti):
            with state.lock:
                if jti in state.jtis:
                    return False
                state.jtis.add(jti)
            return True

    server.register_client_auth_method(
        ClientSecretJWT.CLIENT_AUTH_METHOD, ClientSecretJWT(leeway=60)
    )

    def mutual_tls(method: str):
        # RFC 8705 2: the client named in the body, proven by the certificate its TLS
        # handshake presented (the handshake proved the key); the tokens issued are bound
        # to that certificate.
        def authenticate(query_client, req):
            client_id = req.form.get("client_id")
            der = request.environ.get(PEER_CERT)
            client = query_client(client_id) if client_id and der else None
            if client is None or method not in client.auth_methods:
                return None
            if method == "tls_client_auth":
                ok = any(x509.issued_by(der, ca) for ca in state.device_cas)
                ok = ok and x509.subject_dn(der) == client.subject_dn
            else:
                ok = x509.thumbprint(der) in client.thumbprints
            if not ok:
                return None
            request.environ[_BOUND] = x509.thumbprint(der)
            return client

        return authenticate

    for m in TLS_AUTH + SELF_SIGNED_AUTH:
        server.register_client_auth_method(m, mutual_tls(m))

    class ClientCredentials(grants.ClientCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = auth_methods

    class Password(grants.ResourceOwnerPasswordCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = auth_methods

        def authenticate_user(self, username, password):
            u = state.users.get(username)
            if u is None or not hmac.compare_digest(u.password, password):
                raise InvalidGrantError("Invalid user credentials")
            return u

    class Refresh(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = auth_methods
        INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh returns a new one

        def authenticate_refresh_token(self, refresh_token):
            t = state.refresh.get(refresh_token)
            if t is not None and not t.is_expired() and not t.is_revoked():
                return t
            return None

        def authenticate_user(self, refresh_token):
            return refresh_token.user or refresh_token.client_id

        def revoke_old_credential(self, refresh_token):
            refresh_token.revoked = True

    class Mfa(grants.ResourceOwnerPasswordCredentialsGrant):
        """AllThingsTalk's second login step: the authenticator code for a pending login."""

        GRANT_TYPE = "mfa"
        TOKEN_ENDPOINT_AUTH_METHODS = auth_methods

        def validate_token_request(self):
            client = self.authenticate_token_endpoint_client()
            form = self.request.form
            uid = form.get("mfa_uid")
            if not uid or not form.get("code"):
                raise InvalidRequestError("Missing 'mfa_uid' or 'code' in request.")
            with state.lock:
                user = state.mfa.get(uid)
            if user is None or form.get("user_id") != user.username:
                raise InvalidGrantError("Unknown or expired MFA login")
            if not hmac.compare_digest(user.mfa_code or "", form["code"]):
                raise InvalidGrantError("Invalid verification code")
            with state.lock:
                state.mfa.pop(uid, None)
            self.request.client = client
            self.request.user = user

    class DeviceCode(DeviceCodeGrant):
        def validate_device_credential(self, credential):
            with state.lock:
                step = state.device_script.pop(0) if state.device_script else None
            if step is None:
                return super().validate_device_credential(credential)
            if step == "approve":
                return state.users["user@example.com"]
            raise {
                "pending": AuthorizationPendingError,
                "slow_down": SlowDownError,
                "denied": AccessDeniedError,
                "expired": ExpiredTokenError,
            }[step]()

        def query_device_credential(self, device_code):
            return state.devices.get(device_code)

        def query_user_grant(self, user_code):
            return state.device_grants.get(user_code)

        def should_slow_down(self, credential):
            # RFC 8628 3.5: polling faster than the interval earns slow_down and +5 s.
            now = time.monotonic()
            last = credential.get("last_poll")
            credential["last_poll"] = now
            if last is not None and now - last < credential["interval"]:
                credential["interval"] += 5
                return True
            return False

    class DeviceAuthorization(DeviceAuthorizationEndpoint):
        def get_verification_uri(self):
            return request.host_url + "device"

        def save_device_credential(self, client_id, scope, data):
            data["interval"] = self.INTERVAL = state.device_interval
            cred = DeviceCredentialDict(
                client_id=client_id,
                scope=scope,
                expires_at=time.time() + data["expires_in"],
                **data,
            )
            with state.lock:
                state.devices[data["device_code"]] = cred

        def create_endpoint_response(self, req):
            self.EXPIRES_IN = state.device_expires_in
            self.INTERVAL = state.device_interval
            return super().create_endpoint_response(req)

    for grant in (ClientCredentials, Password, Refresh, Mfa, DeviceCode):
        server.register_grant(grant)
    server.register_endpoint(DeviceAuthorization)

    def token_endpoint(dialect: str, req: Request | None = None) -> Response:
        g.dialect = dialect
        g.lifetimes = state.lifetimes(dialect)
        r = req or request
        form = r.form.to_dict()
        basic = r.authorization.username if r.authorization else None
        client_id = form.get("client_id") or basic
        entry = {
            "route": dialect,
            "path": request.path,
            "grant": form.get("grant_type"),
            "client": client_id,
            "auth": "basic" if basic else ("body" if form.get("client_secret") else "none"),
            "content_type": request.content_type,
            "headers": dict(request.headers),
            "body": request.get_data(),
            "form": form,
            "time": time.monotonic(),
        }
        fault = state.fault_for(client_id)
        strict = _strict(r)
        if strict is not None:
            resp = strict
        elif fault is not None:
            resp = inject(fault, state, dialect, r, server)
        else:
            resp = server.create_token_response(r)
            if dialect == "mydevices" and resp.status_code == 401:
                # Keycloak's answer to a wrong client secret.
                resp = _json(
                    401,
                    {"error": "unauthorized_client", "error_description": "Invalid client secret"},
                )
        entry["status"] = resp.status_code
        with state.lock:
            state.requests.append(entry)
        state.log(
            f"{request.path} grant={entry['grant']} client={client_id} "
            f"auth={entry['auth']} -> {resp.status_code} {_masked(form)}"
        )
        return resp

    @app.post("/oauth/token")
    def generic():
        return token_endpoint("generic")

    @app.post("/oauth/device")
    def device_authorization():
        g.dialect = "generic"
        strict = _strict(request)
        if strict is not None:
            return strict
        resp = server.create_endpoint_response("device_authorization")
        state.log(f"/oauth/device client={request.form.get('client_id')} -> {resp.status_code}")
        return resp

    @app.route("/device", methods=["GET", "POST"])
    def device_page():
        """Where a person types the user code shown by the device, and approves or denies."""
        code = (request.values.get("user_code") or "").strip().upper()
        if request.method == "POST" and code:
            approve = request.form.get("action", "approve") == "approve"
            ok = approve_device(state, code, approve)
            word = ("approved" if approve else "denied") if ok else "unknown code"
            return f"<p>{word}: {html.escape(code)}</p>", 200 if ok else 404
        return (
            f'<form method="post"><input name="user_code" value="{html.escape(code)}">'
            '<button name="action" value="approve">Approve</button>'
            '<button name="action" value="deny">Deny</button></form>'
        )

    @app.post("/auth/realms/<realm>/protocol/openid-connect/token")
    def mydevices_admin(realm: str):
        return token_endpoint("mydevices")

    @app.post("/v1.0/oauth/token")
    def mydevices_user():
        return token_endpoint("mydevices")

    @app.post("/token")
    def devensoft():
        return token_endpoint("devensoft")

    @app.post("/api/oauth/token")
    def yipii():
        return token_endpoint("yipii")

    @app.post("/api/v1/login")
    def modulariot():
        data = request.get_json(silent=True) if request.is_json else None
        if not isinstance(data, dict):
            return _json(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Content-Type must be application/json",
                },
            )
        if data.get("audience") != MODULARIOT_AUDIENCE:
            return _json(
                403,
                {
                    "error": "access_denied",
                    "error_description": "Service not enabled within domain: "
                    + str(data.get("audience")),
                },
            )
        body = urlencode({k: str(v) for k, v in data.items() if k != "audience"}).encode()
        env = dict(request.environ)
        env.update(
            {
                "wsgi.input": io.BytesIO(body),
                "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
            }
        )
        return token_endpoint("modulariot", Request(env))

    @app.post("/login")
    def allthingstalk():
        form = request.form
        if form.get("grant_type") == "password" and "username" in form:
            u = state.users.get(form["username"])
            if (
                u is not None
                and u.mfa_code
                and hmac.compare_digest(u.password, form.get("password", ""))
            ):
                uid = uuid.uuid4().hex
                with state.lock:
                    state.mfa[uid] = u
                return jsonify(
                    {
                        "MfaUid": uid,
                        "UserId": u.username,
                        "message": "MFA verification code required",
                    }
                )
        return token_endpoint("allthingstalk")

    @app.route("/api/resource", methods=["GET", "POST", "PUT"])
    def protected():
        auth = request.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else auth
        with state.lock:
            issued = state.access.get(tok)
            ok = tok in state.static or (
                issued is not None and not issued.is_expired() and not issued.revoked
            )
            if ok and issued is not None and issued.x5t is not None:
                # RFC 8705 3: a bound token counts only with the certificate it is bound to.
                der = request.environ.get(PEER_CERT)
                ok = der is not None and x509.thumbprint(der) == issued.x5t
            state.api_calls.append({"token": tok, "ok": ok, "time": time.monotonic()})
        if not ok:
            return _json(
                401,
                {"error": "invalid_token"},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        who = state.static.get(tok) or (issued.client_id if issued else "?")
        return jsonify({"ok": True, "subject": who})

    @app.post("/_control")
    def control():
        if request.remote_addr not in ("127.0.0.1", "::1"):
            return _json(403, {"error": "loopback only"})
        try:
            apply_control(state, request.get_json(force=True))
        except (ValueError, KeyError, TypeError) as e:
            return _json(400, {"error": "bad control request", "detail": str(e)})
        return jsonify({"ok": True})

    return app


def apply_control(state: State, data: dict) -> None:
    """Changes faults, lifetimes or revocations at run time (the HTTP control endpoint)."""
    with state.lock:
        if "fault" in data:
            f = data["fault"]
            key = f.get("client", "*")
            if f.get("mode") in (None, "none"):
                state.faults.pop(key, None)
            else:
                if f["mode"] not in FAULT_MODES:
                    raise ValueError(f"unknown fault mode {f['mode']}")
                state.faults[key] = Fault(
                    f["mode"], f.get("count"), f.get("retry_after"), float(f.get("seconds", 30))
                )
        if "lifetime" in data:
            state.lifetime = data["lifetime"]
        if "refresh_lifetime" in data:
            state.refresh_lifetime = data["refresh_lifetime"]
        if "refresh_escaped" in data:
            state.refresh_escaped = bool(data["refresh_escaped"])
        if "device" in data:
            d = data["device"]
            if not approve_device(state, d["user_code"], d.get("approve", True)):
                raise ValueError("unknown user_code")
        if "device_interval" in data:
            state.device_interval = data["device_interval"]
        if "device_expires_in" in data:
            state.device_expires_in = data["device_expires_in"]
        if "register" in data:  # a device's self-signed certificate, base64 DER
            r = data["register"]
            if r.get("client") not in state.clients:
                raise ValueError("unknown client")
            state.register(r["client"], base64.b64decode(r["cert"], validate=True))
        if data.get("revoke"):
            for t in list(state.access.values()) + list(state.refresh.values()):
                t.revoked = True


def approve_device(
    state: State, user_code: str, approve: bool = True, username: str = "user@example.com"
) -> bool:
    """What the person does on the verification page: approve (or deny) a device's login."""
    with state.lock:
        if not any(c["user_code"] == user_code for c in state.devices.values()):
            return False
        state.device_grants[user_code] = (state.users[username], approve)
        return True


def _strict(req: Request) -> Response | None:
    """The RFC 6749 errors a strict server gives before any grant logic runs."""
    if req.mimetype != "application/x-www-form-urlencoded":
        return _json(
            400,
            {
                "error": "invalid_request",
                "error_description": "Content-Type must be application/x-www-form-urlencoded",
            },
        )
    if req.authorization is not None and "client_secret" in req.form:
        # RFC 6749 2.3: no more than one authentication method per request.
        return _json(
            400,
            {
                "error": "invalid_request",
                "error_description": "more than one client authentication method",
            },
        )
    return None


def shape(
    state: State,
    dialect: str,
    client: Client,
    user: User | None,
    scope: str | None,
    include_refresh: bool,
    lifetimes: tuple[int, int | None],
    x5t: str | None = None,
) -> dict:
    """A token response in the dialect's own shape (shared/platforms/*.txt); ``x5t`` binds
    its access token to a client certificate (RFC 8705 3.1: claim ``cnf``)."""
    cnf = {"cnf": {"x5t#S256": x5t}} if x5t else {}
    access_life, refresh_life = lifetimes
    now = int(time.time())
    sub = user.username if isinstance(user, User) else client.client_id
    if dialect == "mydevices":
        session = str(uuid.uuid4())
        claims = {
            "exp": now + access_life,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": "https://auth.mydevices.com/auth/realms/demo",
            "aud": "account",
            "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, sub)),
            "typ": "Bearer",
            "azp": client.client_id,
            "session_state": session,
            "acr": "1",
            "realm_access": {
                "roles": ["offline_access", "uma_authorization", "default-roles-demo"]
            },
            "resource_access": {
                "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]}
            },
            "scope": "profile email",
            "sid": session,
            "email_verified": False,
            "clientHost": "127.0.0.1",
            "preferred_username": "service-account-" + sub,
            "clientAddress": "127.0.0.1",
            "client_id": client.client_id,
            **cnf,
        }
        refresh = state.jwt(
            {
                "exp": now + (refresh_life or 0),
                "iat": now,
                "jti": str(uuid.uuid4()),
                "iss": "https://auth.mydevices.com/auth/realms/demo",
                "aud": "https://auth.mydevices.com/auth/realms/demo",
                "sub": claims["sub"],
                "typ": "Refresh",
                "azp": client.client_id,
                "session_state": session,
                "scope": "profile email",
                "sid": session,
            }
        )
        return {
            "access_token": state.jwt(claims),
            "expires_in": access_life,
            "refresh_expires_in": refresh_life,
            "refresh_token": refresh,
            "token_type": "bearer",
            "not-before-policy": 0,
            "session_state": session,
            "scope": "profile email",
        }
    if dialect == "allthingstalk":
        return {
            "access_token": secrets.token_urlsafe(96),
            "token_type": "bearer",
            "expires_in": access_life,
            "refresh_token": secrets.token_urlsafe(24),
            "as:client_id": client.client_id,
            "userName": sub,
            ".issued": formatdate(now, usegmt=True),
            ".expires": formatdate(now + access_life, usegmt=True),
        }
    jwt = state.jwt(
        {
            "iss": "iotauth-tokenserver",
            "sub": sub,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "exp": now + access_life,
            "scope": scope or "",
            **cnf,
        }
    )
    tok = {"access_token": jwt, "expires_in": access_life}
    if dialect == "devensoft":
        tok["token_type"] = "bearer"
    else:
        tok["token_type"] = "Bearer"
    if scope:
        tok["scope"] = scope
    if dialect == "generic" and include_refresh and refresh_life is not None:
        # An opaque token; base64 ones carry characters a form body must escape.
        prefix = "rt+/=" if state.refresh_escaped else ""
        tok["refresh_token"] = prefix + secrets.token_urlsafe(32)
    return tok


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status, headers, mimetype="application/json")


def inject(fault: Fault, state: State, dialect: str, req: Request, server) -> Response:
    """The response (or the misbehaviour) a fault mode stands for."""
    mode = fault.mode
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    if mode in ("500", "502", "503", "429"):
        return _json(int(mode), {"error": "temporarily_unavailable"}, headers)
    if mode == "html":
        return Response(
            "<html><body><h1>502 Bad Gateway</h1></body></html>", 502, mimetype="text/html"
        )
    if mode == "invalid_grant":
        return _json(400, {"error": "invalid_grant", "error_description": "Token is not active"})
    if mode == "redirect":
        return Response("", 302, {"Location": "http://127.0.0.1:9/elsewhere"})
    if mode == "oversized":
        return _json(200, {"access_token": "x" * (1 << 20), "expires_in": 3600})
    if mode in ("silent", "slow"):
        time.sleep(fault.seconds)
    if mode == "reset":
        sock = req.environ.get("werkzeug.socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        return Response("", 500)
    resp = server.create_token_response(req)
    if resp.status_code != 200:
        return resp
    body = json.loads(resp.get_data())
    if mode == "no_access_token":
        body.pop("access_token")
    elif mode == "expires_string":
        body["expires_in"] = str(body["expires_in"])
    elif mode == "expires_missing":
        body.pop("expires_in", None)
    elif mode == "expires_zero":
        body["expires_in"] = 0
    elif mode == "expires_negative":
        body["expires_in"] = -3600
    elif mode == "expires_absurd":
        body["expires_in"] = 10**15
    data = json.dumps(body).encode()
    if mode == "truncated":
        out = Response(data[: len(data) // 2], 200, mimetype="application/json")
        out.headers["Content-Length"] = str(len(data))
        out.automatically_set_content_length = False
        return out
    if mode == "chunked":
        return Response(iter([data[:10], data[10:]]), 200, mimetype="application/json")
    return Response(data, 200, mimetype="application/json")


class _Rfile:
    """The request stream, except for werkzeug's drain after each response: it reads what the
    client sent next with a blocking read(10 MB), so a client that reuses its connection
    (adafruit_requests does; werkzeug answers Connection: close) and sends its next request at
    once would wait for its own timeout. The drain gets what has arrived instead."""

    def __init__(self, f):
        self._f = f

    def read(self, n=-1):
        return self._f.read1(65536) if n >= 10_000_000 else self._f.read(n)

    def __getattr__(self, name):
        return getattr(self._f, name)


class _Handler(WSGIRequestHandler):
    def setup(self) -> None:
        super().setup()
        self.rfile = _Rfile(self.rfile)

    def make_environ(self):
        # The client certificate of a mutual TLS connection, for the routes (werkzeug
        # passes none on).
        env = super().make_environ()
        peer = getattr(self.connection, "getpeercert", None)
        der = peer(binary_form=True) if peer is not None else None
        if der:
            env[PEER_CERT] = der
        return env


class Running:
    """A server started on loopback in a thread; stops itself on ``close()``."""

    def __init__(self, state: State, tls_context=None, host: str = "127.0.0.1", port: int = 0):
        # The request log (State.log) says what matters, secrets masked.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.state = state
        if tls_context is not None and tls_context.verify_mode != ssl.CERT_NONE:
            state.tls_context = tls_context  # asks for client certificates (mutual TLS)
            state.device_cas = tls_context.get_ca_certs(binary_form=True)
        self.app = create_app(state)
        self.httpd = make_server(
            host, port, self.app, threaded=True, request_handler=_Handler, ssl_context=tls_context
        )
        self.port = self.httpd.server_port
        self.scheme = "https" if tls_context else "http"
        self.base = f"{self.scheme}://{host if ':' not in host else '[' + host + ']'}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(
    state: State | None = None, tls_context=None, host: str = "127.0.0.1", port: int = 0
) -> Running:
    return Running(state or State(), tls_context, host, port)


def http_date(offset: int) -> str:
    """An HTTP-date ``offset`` seconds from now, for Retry-After."""
    return formatdate(time.time() + offset, usegmt=True)
