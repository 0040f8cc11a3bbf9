"""Fixtures: the shim, a token server on loopback (HTTP and HTTPS), a flash directory, and
a runner for each runtime."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE / "shim"), str(ROOT / "firmware"), str(ROOT)]

import boardtime  # noqa: E402

# iotauth reads time through a board-like module: 2**30 ms ticks, settable RTC epoch.
_real_time = sys.modules["time"]
sys.modules["time"] = boardtime
try:
    import importlib  # noqa: E402

    import iotauth  # noqa: E402,F401

    for _m in sorted((ROOT / "firmware" / "iotauth").glob("*.py")):  # lazy ones too
        importlib.import_module("iotauth." + _m.stem)
finally:
    sys.modules["time"] = _real_time

from harness import RUNTIMES, Runner  # noqa: E402
from tools.tokenserver.certs import Certs  # noqa: E402
from tools.tokenserver.server import State, serve  # noqa: E402


@pytest.fixture(autouse=True)
def _board_clock():
    from iotauth import token as clock

    boardtime.reset()
    clock._off = None  # the epoch is read once per boot: each test boots afresh
    yield
    boardtime.reset()
    clock._off = None


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"), ["localhost", "127.0.0.1"])


@pytest.fixture
def server():
    s = serve(State())
    yield s
    s.close()


@pytest.fixture
def tls_server(certs):
    s = serve(State(), certs.server_context(), host="127.0.0.1")
    s.base = f"https://localhost:{s.port}"
    yield s
    s.close()


@pytest.fixture
def flash(tmp_path) -> Path:
    d = tmp_path / "flash"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def mpy_build(tmp_path_factory) -> Path:
    """The package compiled with mpy-cross, as a board runs it (tools/build.py)."""
    from tools.build import compile_to

    out = tmp_path_factory.mktemp("mpy")
    compile_to(out)
    return out


@pytest.fixture(params=RUNTIMES)
def runner(request, flash, mpy_build) -> Runner:
    return Runner(request.param, flash, mpy_build)


@pytest.fixture(scope="session")
def port() -> dict:
    """The board-faithful port's programs (make port): {variant: path}, built if needed."""
    from tools.port import ToolError, ensure

    try:
        return {k: str(v) for k, v in ensure().items()}
    except ToolError as e:  # a missing tool fails the test and says so, never skips
        raise AssertionError(f"make port failed: {e}") from None


@pytest.fixture(scope="session")
def circuitpython() -> dict:
    """CircuitPython's unix port with sockets (make circuitpython), and the agent compiled with
    CircuitPython's mpy-cross: {"program": path, "mpy": dir}, built if needed."""
    import subprocess

    from tools.build import MPY_FLAGS, modules, shown
    from tools.cpport import ToolError, ensure

    try:
        prog, cross = ensure()
    except ToolError as e:  # a missing tool fails the test and says so, never skips
        raise AssertionError(f"make circuitpython failed: {e}") from None
    out = prog.parent.parent / "mpy" / "iotauth"
    out.mkdir(parents=True, exist_ok=True)
    for src in modules():
        cmd = [str(cross), *MPY_FLAGS, "-s", shown(src), "-o", str(out / f"{src.stem}.mpy")]
        r = subprocess.run(cmd + [str(src)], capture_output=True, text=True)
        assert r.returncode == 0, f"CircuitPython's mpy-cross refused {src.name}: {r.stderr}"
    return {"program": str(prog), "mpy": str(out.parent)}


# Where memory is measured: PyPI's unix port (64-bit), the board-faithful port with the agent
# from .mpy, and with the agent frozen in.
BOARD_RUNTIMES = ("pypi", "port", "port-frozen")


BOARD_NAMES = {
    "pypi": "unix port",
    "port": "board-faithful port, .mpy",
    "port-frozen": "board-faithful port, frozen",
}


def board_runner_for(kind: str, flash: Path, mpy: Path, request) -> Runner:
    if kind == "pypi":
        r = Runner("micropython", flash, mpy)
    elif kind == "port":
        r = Runner("micropython", flash, mpy, binary=request.getfixturevalue("port")["unix-board"])
    else:  # frozen: a module path without the package, so the firmware's copy is found
        prog = request.getfixturevalue("port")["unix-board-frozen"]
        r = Runner("micropython", flash, binary=prog, path="/nonexistent")
    r.name = BOARD_NAMES[kind]
    return r


@pytest.fixture(params=BOARD_RUNTIMES)
def board_runner(request, flash, mpy_build) -> Runner:
    """A runner on each MicroPython build that memory figures come from."""
    return board_runner_for(request.param, flash, mpy_build, request)


@pytest.fixture(params=RUNTIMES + BOARD_RUNTIMES[1:])
def any_runner(request, flash, mpy_build) -> Runner:
    """The shim, PyPI's unix port, and the board-faithful port (.mpy and frozen)."""
    if request.param == "micropython":
        return board_runner_for("pypi", flash, mpy_build, request)
    if request.param in RUNTIMES:
        return Runner(request.param, flash, mpy_build)
    return board_runner_for(request.param, flash, mpy_build, request)


FIGURES: list[tuple[str, str, str]] = []


@pytest.fixture
def figure():
    """Records one row of the reliability table: scenario, outcome, figure."""

    def record(scenario: str, outcome: str, value: str) -> None:
        FIGURES.append((scenario, outcome, value))

    return record


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    w = max(len(s) for s, _, _ in FIGURES) + 2
    tr = terminalreporter
    tr.section("reliability")
    tr.write_line(f"{'scenario':<{w}}{'outcome':<10}figure")
    for scenario, outcome, value in FIGURES:
        tr.write_line(f"{scenario:<{w}}{outcome:<10}{value}")
    out = ROOT / "build" / "reliability.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2))


def write_config(flash: Path, cfg: dict, name: str = "auth.json") -> Path:
    p = flash / name
    p.write_text(json.dumps(cfg))
    return p
