"""Fleet simulation: N devices (10,000 by default) boot together after an outage and run the
agent's own renewal scheduling (the firmware's Agent, Token and back-off code, unchanged)
against a simulated token server, driven by a simulated clock. Prints the peak and the
99th-percentile token requests per second, with and without the agent's random spread, and
the same after a server outage of M minutes; draws requests per second over time.

    python -m tools.fleet [--devices 10000] [--outage 10] [--hours 3] [--plot build/fleet.png]
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import types
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
PERIOD = 1 << 30


class SimClock(types.ModuleType):
    """A board's ``time`` module on a simulated clock: 2**30 ms ticks and an RTC set by NTP."""

    def __init__(self):
        super().__init__("time")
        self.now_ms = 0
        self.wall0 = 1_800_000_000

    def ticks_ms(self):
        return self.now_ms % PERIOD

    def ticks_add(self, t, d):
        return (t + d) % PERIOD

    def ticks_diff(self, a, b):
        return ((a - b + PERIOD // 2) % PERIOD) - PERIOD // 2

    def time(self):
        return self.wall0 + self.now_ms // 1000

    def gmtime(self, secs=None):
        import time as real

        return tuple(real.gmtime(self.time() if secs is None else secs))[:8]

    def sleep_ms(self, ms):
        self.now_ms += ms


CLOCK = SimClock()


def import_agent():
    """The firmware package on CPython, its ``time`` being the simulated clock."""
    sys.modules.setdefault("micropython", types.SimpleNamespace(const=lambda x: x))
    if str(FIRMWARE) not in sys.path:
        sys.path.insert(0, str(FIRMWARE))
    real = sys.modules["time"]
    sys.modules["time"] = CLOCK
    try:
        import iotauth as errors
        import iotauth.agent as agent
        import iotauth.config as config
        import iotauth.endpoint as renew
        import iotauth.token as clock
    finally:
        sys.modules["time"] = real
    return agent, clock, config, errors, renew


class Server:
    """The simulated token server: counts requests per second, fails during an outage."""

    def __init__(self, lifetime: int, outage: tuple[int, int] | None):
        self.lifetime = lifetime
        self.outage = outage
        self.per_second: Counter[int] = Counter()

    def body(self) -> memoryview:
        return memoryview(
            json.dumps(
                {
                    "access_token": "a",
                    "expires_in": self.lifetime,
                    "refresh_token": "r",
                    "token_type": "bearer",
                }
            ).encode()
        )


def simulate(n: int, hours: float, lifetime: int, outage_min: float, spread: bool) -> Counter:
    agent_mod, clock, config, errors, renew = import_agent()
    CLOCK.now_ms = 0
    real_rand = clock.rand
    real_time = clock.time
    clock.time = CLOCK  # the package may have been imported already (tests): its clock module
    real_fetch, real_save = renew.fetch, agent_mod.Agent._save
    real_gc = agent_mod.gc
    agent_mod.gc = types.SimpleNamespace(collect=lambda: None)  # the heap is not simulated
    if not spread:
        clock.rand = lambda k: 0  # the agent without its jitter and spread
    try:
        outage = (0, int(outage_min * 60)) if outage_min else None
        server = Server(lifetime, outage)
        cfg = config.parse(
            {
                "grant": "client_credentials",
                "token_url": "http://sim/token",
                "client_id": "d",
                "client_secret": "s",
                "insecure_http": True,
            }
        )

        def fetch(agent, grant_type, secret=None):
            t = CLOCK.now_ms // 1000
            server.per_second[t] += 1
            if server.outage and server.outage[0] <= t < server.outage[1]:
                raise errors.TransientError("token endpoint answered HTTP 503", 0)
            return renew.token(server.body(), cfg.margin)

        renew.fetch = fetch
        agent_mod.Agent._save = lambda agent, tok: None  # flash is not what is simulated
        agents = [agent_mod.Agent(cfg, "/nonexistent/state") for _ in range(n)]
        end = int(hours * 3600 * 1000)
        events = [(0, i) for i in range(n)]  # every device boots at t=0
        heapq.heapify(events)
        while events:
            t, i = heapq.heappop(events)
            if t > end:
                break
            CLOCK.now_ms = t
            wait = agents[i].poll()
            heapq.heappush(events, (t + max(1, wait) * 1000, i))
        return server.per_second
    finally:
        clock.rand = real_rand
        clock.time = real_time
        agent_mod.gc = real_gc
        renew.fetch, agent_mod.Agent._save = real_fetch, real_save


def stats(per_second: Counter, start: int = 0) -> tuple[int, float]:
    """Peak and 99th-percentile requests/s over the seconds from ``start`` on."""
    if not per_second:
        return 0, 0.0
    horizon = max(per_second) + 1
    series = sorted(per_second.get(s, 0) for s in range(start, horizon))
    if not series:
        return 0, 0.0
    p99 = series[min(len(series) - 1, int(0.99 * len(series)))]
    return series[-1], float(p99)


def run(n: int, hours: float, lifetime: int, outage: float, plot: Path | None) -> list[dict]:
    rows = []
    curves = {}
    for name, out_min in (("boot together", 0.0), (f"{outage:g} min outage at boot", outage)):
        for spread in (True, False):
            ps = simulate(n, hours, lifetime, out_min, spread)
            peak, p99 = stats(ps)
            after_peak, after_p99 = stats(ps, start=int(out_min * 60) + 1 if out_min else 1)
            label = f"{name}, {'with' if spread else 'without'} spread"
            rows.append(
                {
                    "scenario": label,
                    "requests": sum(ps.values()),
                    "peak": peak,
                    "p99": p99,
                    "peak_after_first_second": after_peak,
                    "p99_after_first_second": after_p99,
                }
            )
            curves[label] = ps
    if plot:
        draw(curves, plot, n, lifetime)
    return rows


def draw(curves: dict, path: Path, n: int, lifetime: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for ax, key in zip(axes, ("boot together", "outage"), strict=True):
        for label, ps in curves.items():
            if key in label:
                xs = range(max(ps) + 1)
                ax.plot(
                    [x / 60 for x in xs],
                    [ps.get(x, 0) for x in xs],
                    lw=0.8,
                    label=label.split(", ")[1],
                )
        ax.set_yscale("symlog")
        ax.set_ylabel("token requests / s")
        ax.set_title(next(lbl for lbl in curves if key in lbl).split(",")[0])
        ax.legend()
    axes[-1].set_xlabel("minutes since the fleet booted")
    fig.suptitle(f"{n} devices, {lifetime // 60} min tokens, margin 60 s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def table(rows: list[dict]) -> str:
    w = max(len(r["scenario"]) for r in rows) + 2
    lines = [
        f"{'scenario':<{w}}{'requests':>10}{'peak/s':>9}{'p99/s':>8}"
        f"{'peak/s after t=0':>18}{'p99/s after t=0':>17}"
    ]
    for r in rows:
        lines.append(
            f"{r['scenario']:<{w}}{r['requests']:>10}{r['peak']:>9}{r['p99']:>8.0f}"
            f"{r['peak_after_first_second']:>18}{r['p99_after_first_second']:>17.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fleet", description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=10000)
    p.add_argument("--hours", type=float, default=3)
    p.add_argument("--lifetime", type=int, default=3600, help="token lifetime, seconds")
    p.add_argument("--outage", type=float, default=10, help="minutes the server is down")
    p.add_argument("--plot", type=Path, default=ROOT / "build" / "fleet.png")
    p.add_argument("--json", type=Path, help="write the figures here too")
    a = p.parse_args(argv)
    rows = run(a.devices, a.hours, a.lifetime, a.outage, a.plot)
    print(table(rows))
    if a.plot:
        print(f"fleet: plot written to {a.plot}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
