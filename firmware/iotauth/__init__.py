# iotauth: keeps a valid OAuth2 access token for a MicroPython device. MIT licence.
# API reference: README.md. Only the public names of CONTRACT.md live here.
from .errors import AuthError, ConfigError, CredentialsError, TransientError  # noqa: F401

__version__ = "0.1.0"


class Config:
    # The checked config as attributes: config.py fills them (None where not set) and
    # prepares the renewal's requests in it. Here so that the parser can leave the heap.
    pass


def load(config="auth.json", state="auth.state"):
    # The parser's code leaves the heap before the agent's loads: they never share it.
    cfg = once("config").load(config)
    import gc

    gc.collect()  # the parser's blocks are free before the agent's code is laid out
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
