# iotauth fields: what auth.json may hold, each field's type and default, what each grant
# needs, and the platforms' presets. Read by config.py at boot, then let go. MIT licence.

STR = "a string"
INT = "an integer"
BOOL = "true or false"

TYPES = {
    "preset": STR,
    "grant": STR,
    "token_url": STR,
    "client_id": STR,
    "client_secret": STR,
    "client_auth": STR,
    "encoding": STR,
    "scope": STR,
    "audience": STR,
    "username": STR,
    "password": STR,
    "refresh_token": STR,
    "token": STR,
    "header": STR,
    "scheme": STR,
    "margin": INT,
    "ca": STR,
    "insecure_http": BOOL,
    "insecure_tls": BOOL,
    "transport": STR,
    "timeout": INT,
    "device_authorization_url": STR,
    "realm": STR,
    "resource": STR,
    "api_ca": STR,
    "cert": STR,
    "key": STR,
}

DEFAULTS = {
    "client_auth": "body",
    "encoding": "form",
    "header": "Authorization",
    "scheme": "Bearer",
    "margin": 60,
    "insecure_http": False,
    "insecure_tls": False,
    "transport": "builtin",
    "timeout": 10,
}

CHOICES = {
    "grant": ("static", "client_credentials", "password", "refresh_token", "device_code"),
    "client_auth": ("body", "basic", "jwt", "tls"),
    "encoding": ("form", "json"),
    "transport": ("builtin", "requests"),
}

# Fields each grant cannot do without.
NEEDS = {
    "static": ("token",),
    "client_credentials": ("token_url", "client_id", "client_secret"),
    "password": ("token_url", "client_id", "username", "password"),
    "refresh_token": ("token_url", "refresh_token"),
    "device_code": ("token_url", "device_authorization_url", "client_id"),
}

# Fields a platform requires beyond what its grant does, from shared/platforms/*.txt:
# myDevices asks for the client secret on every grant, refresh included.
PRESET_NEEDS = {
    "mydevices-admin": ("client_id", "client_secret"),
    "mydevices-user": ("client_id", "client_secret"),
    "modulariot": ("client_id", "client_secret"),
}

_CC = "client_credentials"
_MYD = "https://auth.mydevices.com/auth/realms/{realm}/protocol/openid-connect/token"
PRESETS = {
    "mydevices-admin": {"grant": _CC, "token_url": _MYD},
    "mydevices-user": {
        "grant": "password",
        "token_url": "https://api.mydevices.com/v1.0/oauth/token",
    },
    "devensoft": {"grant": _CC},
    "yipii": {"grant": _CC},
    "modulariot": {
        "grant": _CC,
        "encoding": "json",
        "token_url": "https://api.microboxlabs.com/api/v1/login",
        "audience": None,  # required: no default
    },
    "allthingstalk-device": {"grant": "static"},
    "allthingstalk-ground": {"grant": "static"},
    "allthingstalk-user": {
        "grant": "refresh_token",
        "token_url": "https://api.allthingstalk.io/login",
        "client_id": "web",  # the client id AllThingsTalk documents for its clients
    },
}
