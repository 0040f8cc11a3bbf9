# iotauth: keeps a valid OAuth2 access token for a MicroPython device. MIT licence.
# API reference: README.md. Only the public names of CONTRACT.md live here.
from .errors import AuthError, ConfigError, CredentialsError, TransientError  # noqa: F401

__version__ = "0.1.0"


def load(config="auth.json", state="auth.state"):
    # The parser's code leaves the heap before the agent's loads: they never share it.
    cfg = once("config").load(config)
    import gc

    gc.collect()  # the parser's blocks are free before the agent's code is laid out
    from .agent import Agent

    return Agent(cfg, state)


def once(name):
    # Imports submodule `name` for one use and keeps it out of sys.modules, so its code goes
    # back to the heap when the caller is done: for what runs at boot or after a failure.
    # A module some other one keeps (device keeps failure) is left where it is.
    import sys

    full = "iotauth." + name
    if full in sys.modules:
        return sys.modules[full]
    m = __import__(full, None, None, (name,))
    del sys.modules[full]
    g = globals()
    if name in g:
        del g[name]
    return m
