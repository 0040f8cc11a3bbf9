"""A virtual board: the MicroPython unix port on a pseudo-terminal, with a directory as its
flash, that mpremote can connect to as if it were a serial port.

    python -m tools.vboard FLASH_DIR            # prints the port path; Ctrl-C stops it

mpremote talks to the unix port's raw REPL through the port. A soft reset ends the unix
port's process, so the virtual board starts it again, like a board rebooting: it then runs
``main.py`` from its flash if there is one and returns to the REPL (with ``--no-main``, it
boots straight to the REPL). ``network``, ``machine`` (``reset()`` reboots the virtual board as
from power-on), ``ntptime`` and ``rp2`` exist only on real boards: their stand-ins in
``host_tests/mp_shim`` are always on the path. A soft reset from the raw REPL (what mpremote
does) returns to it without running ``main.py``, as a board does; Ctrl-C interrupts a
running ``main.py``.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.build import ToolError, micropython  # noqa: E402

BOOT = (
    "import os\n"
    "if %(main)s and 'main.py' in os.listdir():\n"
    "    try:\n"
    "        exec(open('main.py').read(), {'__name__': '__main__'})\n"
    "    except SystemExit:\n"
    "        raise\n"  # machine.reset() from main.py: the board reboots
    "    except BaseException as e:\n"
    "        import sys\n"
    "        sys.print_exception(e)\n"
)
_HARD_RESET = 77  # the exit code of host_tests/mp_shim/machine.py's reset()
MP_SHIM = Path(__file__).resolve().parent.parent / "host_tests" / "mp_shim"


class VirtualBoard:
    """Runs the unix port on one pty and bridges it to another that clients open."""

    def __init__(
        self, flash: Path, lib: list[Path] | None = None, heap: str = "", run_main: bool = True
    ):
        self.flash = flash
        # network, machine, ntptime, rp2: stand-ins for what only boards have, always there
        self.lib = [p for p in (lib or []) if p != MP_SHIM] + [MP_SHIM]
        self.heap = heap
        self.run_main = run_main
        self.boots = 0
        self._stop = threading.Event()
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave  # kept open so the port survives clients closing it
        self.proc: subprocess.Popen | None = None
        self._raw = False  # the unix port is in the raw REPL (as mpremote puts it)
        self._busy = False  # main.py is running: Ctrl-C must interrupt it
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> VirtualBoard:
        self._thread.start()
        return self

    def _spawn(self, main: bool) -> tuple[subprocess.Popen, int]:
        m, s = pty.openpty()
        tty.setraw(s)  # bytes pass as a UART would carry them: no CR/LF translation
        path = ":".join([str(p) for p in self.lib] + [".frozen", "lib"])
        env = dict(os.environ, MICROPYPATH=path)
        cmd = [micropython()]
        if self.heap:
            cmd += ["-X", f"heapsize={self.heap}"]
        cmd += ["-i", "-c", BOOT % {"main": main}]
        proc = subprocess.Popen(
            cmd, cwd=self.flash, env=env, stdin=s, stdout=s, stderr=s, start_new_session=True
        )
        os.close(s)
        self.boots += 1
        return proc, m

    def _run(self) -> None:
        main, raw = self.run_main, False
        while not self._stop.is_set():
            self.proc, child = self._spawn(main)
            self._raw, self._busy = False, main
            if raw:
                # A board answers a soft reset in the raw REPL with "soft reboot" and is
                # back in the raw REPL, main.py not run: say the same, and put the new
                # process there.
                os.write(self.master, b"soft reboot\r\n")
                os.write(child, b"\x01")
            try:
                self._pump(child)
            finally:
                os.close(child)
                if self.proc.poll() is None:
                    self.proc.kill()
                self.proc.wait()
            # machine.reset() boots as from power-on (main.py, the friendly REPL); a soft
            # reset from the raw REPL returns to it; from the friendly REPL, main.py runs.
            raw = self.proc.returncode != _HARD_RESET and self._raw
            main = self.run_main and not raw

    def _pump(self, child: int) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self.master, child], [], [], 0.05)
            if self.master in r:
                data = os.read(self.master, 4096)
                if data:
                    if b"\x03" in data and self._busy and self.proc:
                        # The pty is raw (bytes pass as a UART carries them), so Ctrl-C is
                        # a byte the unix port reads only at its prompt: while main.py
                        # runs, deliver it as the interrupt a board's UART raises.
                        os.killpg(self.proc.pid, signal.SIGINT)
                    os.write(child, data)
            if child in r:
                try:
                    data = os.read(child, 4096)
                except OSError:  # the unix port exited: a soft reset, reboot it
                    return
                if not data:
                    return
                if b"raw REPL; CTRL-B to exit" in data:
                    self._raw, self._busy = True, False
                elif b">>> " in data:
                    self._raw, self._busy = False, False
                os.write(self.master, data)
            if self.proc.poll() is not None and child not in r:
                return

    def close(self) -> None:
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self._slave)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vboard", description=__doc__.splitlines()[0])
    p.add_argument("flash", type=Path, help="directory that serves as the board's flash")
    p.add_argument(
        "--lib",
        type=Path,
        action="append",
        default=[],
        help="extra import path (stand-ins for network, machine)",
    )
    p.add_argument("--heap", default="", help="heap size, e.g. 128k")
    p.add_argument("--no-main", action="store_true", help="do not run main.py at boot")
    a = p.parse_args(argv)
    try:
        if not a.flash.is_dir():
            raise ToolError(f"{a.flash} is not a directory")
        vb = VirtualBoard(
            a.flash.resolve(), [x.resolve() for x in a.lib], a.heap, not a.no_main
        ).start()
    except ToolError as e:
        print(f"vboard: {e}", file=sys.stderr)
        return 1
    print(vb.port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: vb._stop.set())
    try:
        while not vb._stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    vb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
