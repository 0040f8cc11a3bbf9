# iotauth: keeps a valid OAuth2 access token for a MicroPython device. MIT licence.
# API reference: README.md. Only the public names of CONTRACT.md live here.

__version__ = "0.1.0"


# Errors: one root, three outcomes that tell the caller what to do next. Here, not in a
# module of their own, as every other module needs them.
class AuthError(Exception):
    pass


# The config file is wrong: fix auth.json, retrying will not help.
class ConfigError(AuthError):
    pass


# The server refused the credentials or the grant (RFC 6749 5.2). The agent waits
# long before asking again; re-provision the device if it persists.
class CredentialsError(AuthError):
    def __init__(self, msg, error=None, error_description=None):
        super().__init__(msg)
        self.error = error
        self.error_description = error_description


# Network, TLS, server or response trouble: try again after retry_after seconds.
class TransientError(AuthError):
    pending = False  # True while a device authorization waits for the user (not a failure)

    def __init__(self, msg, retry_after=0):
        super().__init__(msg)
        self.retry_after = retry_after


class Config:
    # The checked config as attributes: config.py sets those with a value, grant.py adds the
    # renewal's prepared requests. A field not set reads None, so the ten or more a config
    # leaves unset take no heap. Here, not in config.py, so that the parser can leave the
    # heap (a class keeps its module's globals).
    def __getattr__(self, name):
        if name[0] == "_":  # a dunder looked up by a tool (copy, repr): not a field
            raise AttributeError(name)
        return None


def load(config="auth.json", state="auth.state", session=None):
    # The parser's code, then the request composer's, leave the heap before the agent's
    # loads: none of them share it.
    import gc
    import sys

    global _keep
    cfg = use("config").load(config, session)
    if session is None and cfg.via == "http" and sys.implementation.name == "circuitpython":
        session = use("circuitpy").session(cfg)  # a board with wifi makes its own
        if session is not None:
            cfg.via = "viarequests"
            cfg.session = session
    gc.collect()  # the parser's blocks are free before the requests kept are composed
    try:
        use("frozen")  # only in a firmware with the package frozen in (manifest.py)
    except ImportError:
        # Code in the heap: the renewal's token requests are composed once, so their code
        # does not load at every renewal. Frozen, that code costs no heap and the composed
        # requests would (0.45 KB for the device's life): each renewal composes its own.
        use("grant").prepare(cfg)
        _keep = __file__.endswith(".py")
    gc.collect()  # their blocks are free before the agent's code is laid out
    from .agent import Agent

    return Agent(cfg, state)


# True when the package runs from .py sources (mip installs them): load() sets it.
_keep = False


def use(name, each=False):
    # Code on demand, the package's one mechanism for it. Imports submodule `name` and keeps
    # it, and the submodules it brought in, out of sys.modules, so their code and data go
    # back to the heap once the caller lets go: for what runs at boot, after a failure or
    # (each) at every renewal. Frozen code costs no heap but a module's globals and function
    # objects do, so frozen builds unload too. From .py sources a module used at every
    # renewal stays: compiling it on the device each time needs more heap at its peak than
    # its code kept. A module is not use()d again while a caller holds it (the imports
    # point one way), so none is loaded twice. Inside a module loaded here, the package's
    # other modules come through use() too: a plain import would keep them loaded.
    import sys

    mods = sys.modules
    full = "iotauth." + name
    m = mods.get(full)
    if m is not None:
        return m
    if each and _keep:
        return __import__(full, None, None, (name,))
    had = list(mods)  # loops, not comprehensions: a comprehension is one more function, resident
    m = __import__(full, None, None, (name,))
    g = globals()
    for k in list(mods):
        if k not in had and k.startswith("iotauth."):
            del mods[k]
            k = k[8:]
            if k in g:
                del g[k]
    return m
