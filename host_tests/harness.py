"""Runs one scenario script on CPython (in-process, through the shim) or on the real
MicroPython unix port (a fresh process per run, like a board after a reset).

Scripts are MicroPython code. They report with ``out(key, value)`` and ``err(exc)``; a run
returns ``{key: value}`` (a key reported twice keeps a list of its values).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
RUNTIMES = ("cpython", "micropython")

PRELUDE = """\
import json, sys

if sys.implementation.name != "cpython":  # MicroPython's or CircuitPython's unix port
    # A board's ticks (period 2**30 ms) on the unix port, and time that a test can move.
    import time as _rt

    class _BoardClock:
        period = 1 << 30
        off = 0  # ms
        rtc = None  # seconds the RTC reads, when a test sets it (an unset RTC, an ESP32)
        epoch = 1970

        offt = 0  # off within the ticks period, as ticks_add takes it

        if sys.maxsize < 1 << 32:
            # A 32-bit port's own ticks wrap at 2**30, as a board's, and allocate nothing
            # (2**30 itself is no small int there: arithmetic on it would).
            def ticks_ms(self):
                return _rt.ticks_add(_rt.ticks_ms(), self.offt)

            def ticks_add(self, t, d):
                return _rt.ticks_add(t, d)

            def ticks_diff(self, a, b):
                return _rt.ticks_diff(a, b)

        else:

            def ticks_ms(self):
                return (_rt.ticks_ms() + self.off) % self.period

            def ticks_add(self, t, d):
                return (t + d) % self.period

            def ticks_diff(self, a, b):
                h = self.period >> 1
                return ((a - b + h) % self.period) - h

        def time(self):
            if self.rtc is not None:
                return self.rtc + self.off // 1000
            return int(_rt.time()) + self.off // 1000 - (946684800 if self.epoch == 2000 else 0)

        def gmtime(self, s=None):
            s = self.time() if s is None else s
            return _rt.gmtime(s + (946684800 if self.epoch == 2000 else 0))

        def sleep_ms(self, ms):
            _rt.sleep_ms(ms)

        def sleep(self, s):
            _rt.sleep(s)

    clock = _BoardClock()
    sys.modules["time"] = clock

    def advance(s):
        clock.off += int(s * 1000)
        h = clock.period >> 1
        clock.offt = (clock.off + h) % clock.period - h

    def rtc_unset(unset=True):
        # A board before NTP: its RTC reads a few days after its epoch.
        clock.rtc = 86400 * 3 if unset else None

else:
    import boardtime

    advance = boardtime.advance

    def rtc_unset(unset=True):
        boardtime.rtc_unset = unset


def out(k, v):
    print("@@" + json.dumps([k, v]))


def err(e):
    return [type(e).__name__, str(e), getattr(e, "retry_after", None),
            getattr(e, "error", None), getattr(e, "error_description", None)]

"""


def micropython_binary() -> str:
    """The unix port (tools/build.py finds it); a missing one fails the test, never skips."""
    from tools.build import ToolError, micropython

    try:
        return micropython()
    except ToolError as e:
        raise RuntimeError(str(e)) from None


def _parse(text: str) -> dict:
    res: dict = {}
    for line in text.splitlines():
        if not line.startswith("@@"):
            continue
        k, v = json.loads(line[2:])
        if k in res:
            if not isinstance(res[k], list) or not getattr(res[k], "_multi", False):
                res[k] = _Multi([res[k]])
            res[k].append(v)
        else:
            res[k] = v
    return res


class _Multi(list):
    _multi = True


class Failed(AssertionError):
    pass


class Runner:
    """Runs scripts with ``flash`` as the current directory (the board's flash root)."""

    def __init__(
        self,
        runtime: str,
        flash: Path,
        mpy: Path | None = None,
        binary: str | None = None,
        path: str | None = None,
        env: dict | None = None,
    ):
        self.runtime = runtime
        self.flash = flash
        self.mpy = mpy  # the .mpy build: what runs on a board-sized heap
        self.binary = binary  # another unix port than MICROPYTHON's (the board-faithful one)
        self.path = path  # the module path of every run (a frozen build: one without iotauth)
        self.name = runtime  # what the reliability table calls it
        self.env = env or {}  # environment variables of every run (os.getenv's IOTAUTH_*)
        self.stdout = ""

    def run(
        self, script: str, heap: str | None = None, timeout: float = 60, path: str | None = None
    ) -> dict:
        code = PRELUDE + script
        if self.runtime == "micropython":
            return self._mp(code, heap, timeout, path)
        return self._cpython(code)

    def _mp(self, code, heap, timeout, path):
        f = self.flash / "_scenario.py"
        f.write_text(code)
        cmd = [self.binary or micropython_binary()]
        path = path or self.path
        if heap:
            cmd += ["-X", f"heapsize={heap}"]
            path = path or (str(self.mpy) if self.mpy else None)
        env = dict(os.environ, MICROPYPATH=f"{path or FIRMWARE}:.frozen", **self.env)
        try:
            p = subprocess.run(
                cmd + [f.name],
                cwd=self.flash,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        finally:
            f.unlink()
        self.stdout = p.stdout
        if p.returncode != 0:
            raise Failed(f"micropython exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return _parse(p.stdout)

    def _cpython(self, code):
        buf = io.StringIO()
        old = os.getcwd()
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        os.chdir(self.flash)
        try:
            with contextlib.redirect_stdout(buf):
                exec(compile(code, "_scenario.py", "exec"), {"__name__": "__main__"})
        finally:
            os.chdir(old)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.stdout = buf.getvalue()
        return _parse(self.stdout)
