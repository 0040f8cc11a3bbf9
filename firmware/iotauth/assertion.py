# iotauth assertion: client_secret_jwt (RFC 7523 2.2). In place of the client secret, each
# token request carries a JWT signed with it (HS256: HMAC-SHA256 on hashlib.sha256): the
# secret never leaves the device, and a captured request is good for a minute at most and
# once (the server keeps the jti). Dated by the wall clock: before NTP there is none to
# make. Loaded for each token request of a config with client_auth "jwt". MIT licence.
import binascii
import hashlib
import json
import os

from . import TransientError
from .token import unix

TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_HEAD = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"HS256","typ":"JWT"}, base64url
_LIFE = 60  # seconds the assertion is good for


def _b64(b):
    # base64url without padding (RFC 7515 2).
    return binascii.b2a_base64(b)[:-1].replace(b"+", b"-").replace(b"/", b"_").rstrip(b"=")


def _hmac(key, msg):
    # HMAC-SHA256 (RFC 2104): the boards' hashlib has sha256, no hmac.
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes([k ^ 0x36 for k in key]))
    inner.update(msg)
    outer = hashlib.sha256(bytes([k ^ 0x5C for k in key]))
    outer.update(inner.digest())
    return outer.digest()


def make(cfg):
    # -> the assertion (str) for a request to the token endpoint; TransientError while the
    # RTC is unset.
    now = unix()
    if now is None:
        raise TransientError("client_auth jwt: the clock is not set (NTP), no assertion to date")
    parts = cfg.token_url_parts
    aud = ("https://" if parts[0] else "http://") + parts[4] + str(parts[3], "utf-8")
    jti = str(binascii.hexlify(os.urandom(16)), "ascii")
    claims = {"iss": cfg.client_id, "sub": cfg.client_id, "aud": aud, "jti": jti}
    claims["iat"] = now
    claims["exp"] = now + _LIFE
    signed = _HEAD + b"." + _b64(json.dumps(claims).encode())
    sig = _b64(_hmac(cfg.client_secret.encode(), signed))
    return str(signed + b"." + sig, "ascii")
