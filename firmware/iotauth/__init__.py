# iotauth: keeps a valid OAuth2 access token for a MicroPython device. MIT licence.
# API reference: README.md. Only the public names of CONTRACT.md live here.
from .errors import AuthError, ConfigError, CredentialsError, TransientError  # noqa: F401
from .agent import Agent, load  # noqa: F401

__version__ = "0.1.0"
