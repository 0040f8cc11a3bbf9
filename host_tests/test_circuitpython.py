"""CircuitPython's own VM (make circuitpython: 10.2.1's unix port with MicroPython's socket
module added): the agent from .py and from .mpy built by CircuitPython's mpy-cross, against the
local token server; secrets from settings.toml's stand-in, the environment (os.getenv)."""

from __future__ import annotations

import pytest
from test_grants import generic, grants

from conftest import write_config
from harness import RUNTIMES, Runner

VM = """
import sys
out("vm", [sys.implementation.name, list(sys.implementation.version[:3])])
"""

ROTATE = """
import iotauth
a = iotauth.load()
t1 = a.token()
a.invalidate()
t2 = a.token()
out("changed", t1 != t2)
out("repr", repr(a))
"""

BOOT = """
import iotauth
a = iotauth.load()
out("t", len(a.token()))
"""


def cp_runner(circuitpython, flash, build: str, env=None) -> Runner:
    path = circuitpython["mpy"] if build == "mpy" else None
    return Runner("micropython", flash, binary=circuitpython["program"], path=path, env=env)


def test_the_vm_is_circuitpython(circuitpython, flash):
    res = cp_runner(circuitpython, flash, "py").run(VM)
    assert res["vm"] == ["circuitpython", [10, 2, 1]]


@pytest.mark.parametrize("build", ["py", "mpy"])
def test_renews_rotates_and_restores_on_circuitpython(build, circuitpython, server, flash):
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    runner = cp_runner(circuitpython, flash, build)
    res = runner.run(ROTATE)
    assert res["changed"] and "valid" in res["repr"]
    assert grants(server) == [("password", 200), ("refresh_token", 200)]
    for secret in ("userpass", "device-1-secret"):
        assert secret not in runner.stdout + res["repr"]
    again = runner.run(BOOT)  # a reset: the persisted token serves, no request
    assert again["t"] > 0 and len(server.state.requests) == 2


ENV_RUNTIMES = ["circuitpython", *RUNTIMES]


def env_runner(name, circuitpython, flash, mpy_build, env) -> Runner:
    if name == "circuitpython":
        return cp_runner(circuitpython, flash, "py", env)
    return Runner(name, flash, mpy_build, env=env)


@pytest.mark.parametrize("name", ENV_RUNTIMES)
def test_a_secret_missing_from_auth_json_comes_from_getenv(
    name, circuitpython, server, flash, mpy_build
):
    cfg = generic(server)
    del cfg["client_secret"]
    write_config(flash, cfg)
    env = {"IOTAUTH_CLIENT_SECRET": "device-1-secret", "IOTAUTH_TIMEOUT": "7"}
    res = env_runner(name, circuitpython, flash, mpy_build, env).run(BOOT)
    assert res["t"] > 0
    assert server.state.requests[0]["form"]["client_secret"] == "device-1-secret"


@pytest.mark.parametrize("name", ENV_RUNTIMES)
def test_a_whole_config_from_getenv_without_auth_json(
    name, circuitpython, server, flash, mpy_build
):
    env = {
        "IOTAUTH_GRANT": "client_credentials",
        "IOTAUTH_TOKEN_URL": server.url("/oauth/token"),
        "IOTAUTH_CLIENT_ID": "device-1",
        "IOTAUTH_CLIENT_SECRET": "device-1-secret",
        "IOTAUTH_INSECURE_HTTP": "true",
    }
    assert not (flash / "auth.json").exists()
    res = env_runner(name, circuitpython, flash, mpy_build, env).run(BOOT)
    assert res["t"] > 0 and grants(server) == [("client_credentials", 200)]


WRONG = """
import iotauth
try:
    iotauth.load()
except iotauth.ConfigError as e:
    out("e", str(e))
"""


@pytest.mark.parametrize(
    "var,value,words",
    [
        (
            "IOTAUTH_TIMEOUT",
            "soon-9731",
            "IOTAUTH_TIMEOUT (settings.toml or environment): must be an integer",
        ),
        (
            "IOTAUTH_INSECURE_HTTP",
            "yes-9731",
            "IOTAUTH_INSECURE_HTTP (settings.toml or environment): must be true or false",
        ),
    ],
)
@pytest.mark.parametrize("name", ENV_RUNTIMES)
def test_a_getenv_value_of_the_wrong_type_is_a_config_error(
    name, var, value, words, circuitpython, server, flash, mpy_build
):
    cfg = generic(server)
    del cfg["insecure_http"]
    cfg["token_url"] = cfg["token_url"]
    write_config(flash, dict(cfg, insecure_http=True) if var != "IOTAUTH_INSECURE_HTTP" else cfg)
    res = env_runner(name, circuitpython, flash, mpy_build, {var: value}).run(WRONG)
    assert res["e"] == words and value not in res["e"]


@pytest.mark.parametrize("name", ENV_RUNTIMES)
def test_no_auth_json_and_no_iotauth_variables_says_the_file(
    name, circuitpython, flash, mpy_build
):
    res = env_runner(name, circuitpython, flash, mpy_build, {}).run(WRONG)
    assert res["e"] == "auth.json: cannot read the config file"


# A CircuitPython board's time: no ticks_* in time (monotonic, time, localtime, sleep) and
# supervisor.ticks_ms(), which wraps every 2**29 ms, both moved by advance().
BOARD_TIME = """
import sys
_clk = sys.modules["time"]  # the harness's movable clock


class _Time:
    def time(self):
        return _clk.time()

    def localtime(self, s=None):
        return _clk.gmtime(s)

    def monotonic(self):
        return _clk.ticks_ms() / 1000

    def sleep(self, s):
        _clk.sleep(s)


class _Supervisor:
    def ticks_ms(self):
        return _clk.ticks_ms() & ((1 << 29) - 1)


sys.modules["time"] = _Time()
sys.modules["supervisor"] = _Supervisor()
"""

BOARD_RUN = (
    BOARD_TIME
    + """
import gc, iotauth
a = iotauth.load()
a.token()
advance(1000)
out("left", a._tok.expires_in())
h = a.headers
gc.collect()
gc.disable()
m = gc.mem_alloc()
for i in range(200):
    h()
out("hot", gc.mem_alloc() - m)
gc.enable()
advance(7 * 86400)  # past a 2**29 ms wrap and the token's day: the wall clock says expired
a.token()
out("left2", a._tok.expires_in())
"""
)


@pytest.mark.parametrize("build", ["py", "mpy"])
def test_board_time_on_circuitpython(build, circuitpython, server, flash):
    # The code a board takes: ticks from supervisor (2**29 period), no time.ticks_ms.
    write_config(flash, generic(server))
    server.state.lifetime = 86400
    res = cp_runner(circuitpython, flash, build).run(BOARD_RUN)
    assert 85390 <= res["left"] <= 85400
    assert res["hot"] == 0
    assert 86390 <= res["left2"] <= 86400 and len(server.state.requests) == 2
