# iotauth: keeps a valid OAuth2 access token for a MicroPython device. MIT licence.
# API reference: README.md. Only the public names of CONTRACT.md live here.
from .errors import AuthError, ConfigError, CredentialsError, TransientError  # noqa: F401

__version__ = "0.1.0"


class Config:
    # The checked config as attributes: config.py fills them (None where not set), grant.py
    # adds the renewal's prepared requests. Here so that the parser can leave the heap.
    pass


def load(config="auth.json", state="auth.state"):
    # The parser's code, then the request composer's, leave the heap before the agent's
    # loads: none of them share it.
    import gc

    cfg = once("config").load(config)
    gc.collect()
    once("grant").prepare(cfg)  # the renewal's token requests, composed once
    gc.collect()  # their blocks are free before the agent's code is laid out
    from .agent import Agent

    return Agent(cfg, state)


def once(name):
    # Imports submodule `name` for one use and keeps it, and the submodules it brought in,
    # out of sys.modules, so their code goes back to the heap when the caller is done: for
    # what runs at boot or after a failure. A module some other one keeps (device keeps
    # failure and grant) is left where it is.
    import sys

    mods = sys.modules
    full = "iotauth." + name
    if full in mods:
        return mods[full]
    had = list(mods)
    m = __import__(full, None, None, (name,))
    g = globals()
    for k in list(mods):
        if k not in had:
            del mods[k]
            k = k[8:]
            if k in g:
                del g[k]
    return m
