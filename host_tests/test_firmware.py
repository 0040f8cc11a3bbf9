"""The firmware as a board gets it: MicroPython-only imports, compiles with mpy-cross, imports
from .py and .mpy on the unix port, allocates nothing on the hot path, leaks no secret."""

from __future__ import annotations

import ast

import pytest
from test_grants import generic

from conftest import write_config
from harness import FIRMWARE, Runner
from tools.build import modules
from tools.tokenserver.server import apply_control

ALLOWED = {
    "time",
    "json",
    "os",
    "gc",
    "binascii",
    "hashlib",
    "socket",
    "ssl",
    "tls",  # what ssl wraps on MicroPython >= 1.23 (CONTRACT: "socket + tls/ssl")
    "asyncio",  # the async API of CONTRACT.md (aio.py), and errno for its connect
    "errno",
    "requests",
    "urequests",
    "micropython",
    "machine",
    "sys",
    # CircuitPython's (CONTRACT's CircuitPython lines): its ticks, its read-only drive, nvm
    "supervisor",
    "storage",
    "microcontroller",
    "wifi",
    "socketpool",
    "adafruit_requests",
}


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_imports_only_what_boards_have(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # inside the package
                continue
            names = [node.module]
        else:
            assert not isinstance(node, (ast.AnnAssign,)), f"{path.name}: annotations"
            if isinstance(node, ast.FormattedValue):
                raise AssertionError(f"{path.name}:{node.lineno}: f-string on the board")
            continue
        for n in names:
            assert n.split(".")[0] in ALLOWED, f"{path.name} imports {n}"


IMPORT_ALL = """
import sys
import iotauth
out("loaded", sorted(n for n in sys.modules if n.startswith("iotauth")))
import iotauth.agent, iotauth.http, iotauth.endpoint, iotauth.viarequests
out("names", sorted(n for n in dir(iotauth) if not n.startswith("_")))
out("file", iotauth.agent.__file__ if hasattr(iotauth.agent, "__file__") else "")
"""


@pytest.mark.parametrize("build", ["py", "mpy"])
def test_imports_on_the_unix_port(build, flash, mpy_build):
    path = str(FIRMWARE) if build == "py" else str(mpy_build)
    res = Runner("micropython", flash).run(IMPORT_ALL, path=path)
    # import iotauth costs the sketch the public names only: the agent loads with load()
    assert res["loaded"] == ["iotauth"]
    assert {
        "load",
        "AuthError",
        "ConfigError",
        "CredentialsError",
        "TransientError",
    } <= set(res["names"])
    assert res["file"].endswith(".mpy" if build == "mpy" else ".py")


RESIDENT = """
import sys, iotauth
def loaded():
    return sorted(n[8:] for n in sys.modules if n.startswith("iotauth."))
a = iotauth.load()
out("boot", loaded())
a.token()
a.invalidate()
a.token()
out("renewed", loaded())
"""

FAILED = """
import sys, iotauth
a = iotauth.load()
a.invalidate()
try:
    a.token()
except iotauth.TransientError as e:
    out("e", str(e))
out("failed", sorted(n[8:] for n in sys.modules if n.startswith("iotauth.")))
"""


@pytest.mark.parametrize("build", ["mpy", "py"])
@pytest.mark.parametrize("grant", ["static", "client_credentials"])
def test_only_the_renewal_path_stays_in_the_heap(grant, build, server, flash, mpy_build):
    # What runs once (config, fields, store at boot), for each renewal (endpoint, http and
    # store) or after a failure (failure) is imported for that use and let go; a
    # static token never loads the renewal modules. From .py sources what each renewal runs
    # stays loaded, as compiling it again at every renewal would cost more.
    cfg = generic(server) if grant != "static" else {"grant": "static", "token": "k"}
    write_config(flash, cfg)
    path = str(mpy_build) if build == "mpy" else str(FIRMWARE)
    runner = Runner("micropython", flash, path=path)
    res = runner.run(RESIDENT)
    apply_control(server.state, {"fault": {"mode": "503"}})
    res.update(runner.run(FAILED))
    base = ["agent", "token"]
    if grant == "static":
        assert res["boot"] == res["renewed"] == res["failed"] == base
        return
    assert "503" in res["e"]
    assert res["boot"] == base
    each = [] if build == "mpy" else ["endpoint", "http"]
    assert res["renewed"] == sorted(base + each + (["store"] if each else []))
    assert res["failed"] == sorted(base + each)  # nothing to write after a failure


HOT = """
import gc, iotauth
a = iotauth.load()
a.token(); a.headers()
h = a.headers
t = a.token
m0 = m1 = i = 0  # the script's own globals exist before the heap is measured
gc.collect()
gc.disable()
m0 = gc.mem_alloc()
for i in range(1000):
    h()
    t()
m1 = gc.mem_alloc()
gc.enable()
out("alloc", m1 - m0)
"""


@pytest.mark.parametrize("grant", ["static", "client_credentials"])
def test_hot_path_allocates_nothing(grant, board_runner, server, flash):
    cfg = generic(server) if grant != "static" else {"grant": "static", "token": "k"}
    write_config(flash, cfg)
    res = board_runner.run(HOT)
    assert res["alloc"] == 0


REPRS = """
import iotauth
a = iotauth.load()
a.token()
texts = [repr(a), str(a), repr(a._tok), repr(a._cfg), repr(a._store), repr(a.headers)]
try:
    iotauth.load("missing.json")
except iotauth.ConfigError as e:
    texts.append(str(e))
out("texts", texts)
"""


def test_no_secret_in_any_repr(runner, server, flash):
    write_config(flash, generic(server, grant="password", username="u@x", password="pw-SECRET-9"))
    server.state.users["u@x"] = type(server.state.users["user@example.com"])("u@x", "pw-SECRET-9")
    res = runner.run(REPRS)
    # A token was obtained, so the texts had secrets to leak.
    assert [r["status"] for r in server.state.requests] == [200]
    joined = " ".join(res["texts"])
    for s in ("device-1-secret", "pw-SECRET-9", "eyJ"):
        assert s not in joined


def test_package_json_lists_every_module():
    import json

    pkg = json.loads((FIRMWARE / "package.json").read_text())
    listed = {dest for dest, _src in pkg["urls"]}
    assert listed == {f"iotauth/{p.name}" for p in modules()}
    for _dest, src in pkg["urls"]:
        assert (FIRMWARE / src).is_file()
    init = (FIRMWARE / "iotauth" / "__init__.py").read_text()
    manifest = (FIRMWARE / "manifest.py").read_text()
    assert f'__version__ = "{pkg["version"]}"' in init
    assert f'version="{pkg["version"]}"' in manifest


def package_imports(path) -> set[str]:
    """The package modules `path` imports: `from . import x`, `from .x import ...`, and
    `use("x")` (code on demand), wherever they stand in the module."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module)
            else:
                found.update(
                    a.name for a in node.names if (FIRMWARE / "iotauth" / f"{a.name}.py").exists()
                )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "use"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(node.args[0].value)
    if path.stem == "endpoint":  # use(cfg.via): the configured transport
        found.update({"http", "viarequests"})
    found.discard(path.stem)
    return found


def test_no_import_cycle_among_the_modules():
    # The imports point one way: no module reaches itself through what it imports (the
    # package root, which holds the error classes and load(), is where they start).
    graph = {p.stem: package_imports(p) for p in modules() if p.stem != "__init__"}
    graph = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    assert "http" in graph["endpoint"] and "store" in graph["agent"]  # the parse sees use()

    def reach(start):
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(graph[m])
        return seen

    assert [m for m in graph if m in reach(m)] == []
    assert not any("agent" in deps for deps in graph.values())


def test_only_the_agent_writes_its_state():
    # Other modules read the agent (its config, its token for scrubbing); none assigns to
    # its private attributes.
    for path in modules():
        if path.stem == "agent":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if (
                        isinstance(n, ast.Attribute)
                        and isinstance(n.value, ast.Name)
                        and n.value.id == "agent"
                    ):
                        raise AssertionError(f"{path.name}:{n.lineno} writes agent.{n.attr}")


TRACEBACK = """
import io, sys
from iotauth.jsonscan import check
try:
    check(b"{")
except ValueError as e:
    f = io.StringIO()
    sys.print_exception(e, f)
    out("tb", f.getvalue())
from iotauth import jsonscan
out("file", jsonscan.__file__)
"""


def test_a_mpy_module_names_itself_by_its_module_name(flash, mpy_build):
    # Each .mpy carries its module's name as its source name (tools/build.py shown()): the
    # import has interned that name already, where a path would be one more name kept in
    # the heap for good. Tracebacks then name the module; __file__ is still the file's path.
    res = Runner("micropython", flash, path=str(mpy_build)).run(TRACEBACK)
    assert 'File "iotauth.jsonscan"' in res["tb"], res["tb"]
    assert "jsonscan.py" not in res["tb"]
    assert res["file"].endswith("iotauth/jsonscan.mpy")
