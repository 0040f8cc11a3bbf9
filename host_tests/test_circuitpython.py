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
    cfg.pop(var[8:].lower(), None)  # the field is left to the environment, which has it wrong
    write_config(flash, cfg)
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


# CIRCUITPY read-only to code (no boot.py remount), and microcontroller.nvm: a stand-in whose
# bytes live in a file of the flash folder, so they survive a reset as a board's do. CUT, when
# set, is where power fails during the next nvm write: what came before it is written.
READ_ONLY = """
import sys


class _Mount:
    readonly = True


class _Storage:
    def getmount(self, path):
        return _Mount()


class _Nvm:
    CUT = None

    def __init__(self, size):
        try:
            with open("nvm.bin", "rb") as f:
                self.b = bytearray(f.read())
        except OSError:
            self.b = bytearray(size)

    def __len__(self):
        return len(self.b)

    def __getitem__(self, i):
        return self.b[i]

    def __setitem__(self, i, data):
        if _Nvm.CUT is not None:
            data = bytes(data[: _Nvm.CUT])
            i = slice(i.start, i.start + len(data))
        self.b[i] = data
        with open("nvm.bin", "wb") as f:
            f.write(self.b)
        if _Nvm.CUT is not None:
            raise SystemExit("power cut")


class _Microcontroller:
    pass


sys.modules["storage"] = _Storage()
mc = _Microcontroller()
if %(nvm)s:
    mc.nvm = _Nvm(4096)  # rp2's size
sys.modules["microcontroller"] = mc
"""

NVM_BOOT = (
    READ_ONLY
    + """
import iotauth
a = iotauth.load()
out("t", a.token())
"""
)

NVM_CUT = (
    READ_ONLY
    + """
import iotauth
a = iotauth.load()
a.invalidate()
_Nvm.CUT = %(cut)d
a.token()
"""
)


@pytest.mark.parametrize("build", ["py", "mpy"])
def test_read_only_flash_keeps_the_state_in_nvm(build, circuitpython, server, flash):
    write_config(flash, generic(server))
    runner = cp_runner(circuitpython, flash, build)
    first = runner.run(NVM_BOOT % {"nvm": True})
    again = runner.run(NVM_BOOT % {"nvm": True})  # a reset
    assert again["t"] == first["t"] and len(server.state.requests) == 1
    assert not list(flash.glob("auth.state*"))  # nothing written to the read-only drive
    assert first["t"].encode() in (flash / "nvm.bin").read_bytes()


@pytest.mark.parametrize("cut", [3, 40, 150])  # the state is 300 B and more
def test_power_cut_during_an_nvm_write_keeps_the_last_state(cut, circuitpython, server, flash):
    write_config(
        flash, generic(server, grant="password", username="user@example.com", password="userpass")
    )
    runner = cp_runner(circuitpython, flash, "py")
    first = runner.run(NVM_BOOT % {"nvm": True})
    with pytest.raises(AssertionError, match="power cut"):
        runner.run(NVM_CUT % {"nvm": True, "cut": cut})
    after = runner.run(NVM_BOOT % {"nvm": True})
    assert after["t"] == first["t"]  # the old slot loads: the cut one is not taken
    assert len(server.state.requests) == 2  # the renewal that lost power, no more


def test_read_only_flash_without_nvm_keeps_the_token_in_ram(circuitpython, server, flash):
    write_config(flash, generic(server))
    runner = cp_runner(circuitpython, flash, "py")
    runner.run(NVM_BOOT % {"nvm": False})
    said = runner.stdout
    assert said.count("tokens kept in RAM only") == 1
    runner.run(NVM_BOOT % {"nvm": False})
    assert len(server.state.requests) == 2 and not list(flash.glob("auth.state*"))
    assert "device-1-secret" not in said
