"""`make bench`: the agent's allocation and heap figures beside the naive `requests` baseline,
measured in one run against the local token server (Keycloak-shaped tokens: the myDevices
admin dialect). Writes build/bench.json too.

By default on the board-faithful port (`make port`: 32-bit, mbedtls in the GC heap as on a
Pico W), in three columns: naive `requests` (it verifies no certificate), the agent from
`.mpy`, the agent frozen into the firmware. `--pypi` measures on PyPI's 64-bit unix port
instead (naive and `.mpy` only: it has no frozen agent).

    python -m tools.bench [--pypi]

Allocation figures are exact: `gc.disable()` and `gc.mem_alloc()` deltas.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = ROOT / "firmware"
sys.path.insert(0, str(ROOT))

from tools.build import OUT as MPY_DIR  # noqa: E402

CP_OUT = ROOT / "build" / "bench-circuitpy"
from tools.build import ToolError, compile_to  # noqa: E402
from tools.build import micropython as find_micropython  # noqa: E402
from tools.tokenserver.certs import Certs  # noqa: E402
from tools.tokenserver.server import State, serve  # noqa: E402

CLIENT = ("md-admin", "md-admin-secret")
RENEWALS = 100
SHORT = 3  # the short run: load + token + 3 renewals
STEADY = 3  # sizes above the smallest heap that must run too

# The script's names and figures exist before m0, so the heap kept at rest counts only what
# the code under test keeps.
MEASURE = """
import gc, json, sys
r = {"first": 0, "renew": 0, "hot": 0, "growth20": 0, "rest": 0, "tokens": 0, "header": 0}
m = m0 = i = a = tok = h = URL = BODY = H = None
%(pre)s
gc.collect()
m0 = gc.mem_alloc()
%(setup)s
gc.collect()
gc.disable()
m = gc.mem_alloc()
%(first)s
r["first"] = gc.mem_alloc() - m
gc.enable()
gc.collect()
gc.disable()
m = gc.mem_alloc()
%(renew)s
r["renew"] = gc.mem_alloc() - m
gc.enable()
gc.collect()
gc.disable()
m = gc.mem_alloc()
for i in range(100):
%(hot)s
r["hot"] = (gc.mem_alloc() - m) // 100
gc.enable()
gc.collect()
m = gc.mem_alloc()
for i in range(20):
%(renew_indented)s
gc.collect()
r["growth20"] = gc.mem_alloc() - m
r["rest"] = gc.mem_alloc() - m0
r["tokens"] = %(token_bytes)s
r["header"] = %(header_bytes)s
print("@@" + json.dumps(r))
"""

# A renewal collects (before the request, before the tokens are made), which would take
# garbage off a mem_alloc delta: while measuring, the agent's modules import a `gc` whose
# collect() does nothing (sys.modules is searched first), so every byte allocated counts.
NO_COLLECT = (
    "class _NoCollect:\n    def collect():\n        pass\nsys.modules['gc'] = _NoCollect\n"
)

AGENT = {
    "pre": "",
    "setup": NO_COLLECT + "import iotauth\na = iotauth.load()",
    "first": "a.token()",
    "renew": "a.invalidate()\na.token()",
    "hot": "    a.headers()\n    a.token()",
    "renew_indented": "    a.invalidate()\n    a.token()",
    "token_bytes": "len(a._tok.access) + len(a._tok.refresh or '')",
    "header_bytes": "len(a._hdrs['Authorization'])",
}

NAIVE = {
    "pre": "",
    "setup": "import requests\nURL = %(url)r\nBODY = %(body)r\n"
    "H = {'Content-Type': 'application/x-www-form-urlencoded'}",
    "first": "tok = requests.post(URL, data=BODY, headers=H).json()",
    "renew": "tok = requests.post(URL, data='grant_type=refresh_token&refresh_token=' + "
    "tok['refresh_token'] + '&' + BODY[30:], headers=H).json()",
    "hot": "    h = {'Authorization': 'Bearer ' + tok['access_token']}",
    "renew_indented": "    tok = requests.post(URL, data='grant_type=refresh_token&"
    "refresh_token=' + tok['refresh_token'] + '&' + BODY[30:], headers=H).json()",
    "token_bytes": "len(tok['access_token']) + len(tok['refresh_token'])",
    "header_bytes": "len(h['Authorization'])",
}

SURVIVE = {
    "agent": "import iotauth\na = iotauth.load()\na.token()\n"
    "for i in range(%(n)d):\n    a.invalidate()\n    a.token()\nprint('@@ok')\n",
    "naive": "import requests\nURL = %(url)r\nBODY = %(body)r\n"
    "H = {'Content-Type': 'application/x-www-form-urlencoded'}\n"
    "tok = requests.post(URL, data=BODY, headers=H).json()\nfor i in range(%(n)d):\n"
    "    tok = requests.post(URL, data='grant_type=refresh_token&refresh_token=' + "
    "tok['refresh_token'] + '&' + BODY[30:], headers=H).json()\n"
    "    assert 'access_token' in tok\nprint('@@ok')\n",
}


# CircuitPython: the app's adafruit_requests Session over the socket pool (host_tests/cp_shim,
# the shape of a board's socketpool on the unix port's sockets), made before m0 (the app's, not
# the agent's); the agent given it as session=, naive posting through it.
CP_PRE = (
    "from socketpool import SocketPool\nimport adafruit_requests\n"
    "session = adafruit_requests.Session(SocketPool())"
)


def _on_session(code: str) -> str:
    return code.replace("import requests\n", "").replace("requests.post", "session.post")


CP_AGENT = dict(AGENT, pre=CP_PRE, setup=AGENT["setup"].replace("load()", "load(session=session)"))
CP_NAIVE = dict({k: _on_session(v) for k, v in NAIVE.items()}, pre=CP_PRE)
CP_SURVIVE = {
    "agent": CP_PRE + "\n" + SURVIVE["agent"].replace("load()", "load(session=session)"),
    "naive": CP_PRE + "\n" + _on_session(SURVIVE["naive"]),
}


# A 10 ms ticker task beside the agent while the code put in %s runs (indented under a try):
# how often it ran and its longest gap, printed as the tests' out() prints ("@@" + JSON),
# so that host_tests/test_async.py runs the same script. Here: the first token request while
# the server takes SLOW s to answer, by the blocking call made from a task and by the async one.
TICKER = """
import asyncio, json, time, iotauth
a = iotauth.load()
seen = [0, 0]


async def ticker():
    last = time.ticks_ms()
    while True:
        await asyncio.sleep_ms(10)
        now = time.ticks_ms()
        seen[0] = max(seen[0], time.ticks_diff(now, last))
        seen[1] += 1
        last = now


async def main():
    t = asyncio.create_task(ticker())
    await asyncio.sleep_ms(30)
    seen[0] = seen[1] = 0
    try:
%s
    finally:
        await asyncio.sleep_ms(30)  # the ticker runs once more: it sees the gap there was
        t.cancel()
    print("@@" + json.dumps(["gap", seen[0]]))
    print("@@" + json.dumps(["ticks", seen[1]]))


asyncio.run(main())
"""
GAP_CALLS = {"gap_block": "        a.token()", "gap_async": "        await a.atoken()"}
SLOW = 1.5  # seconds the server takes to answer while the gap is measured


class BenchError(Exception):
    pass


class Column:
    """What one column runs: a MicroPython program with a module path, the agent or not."""

    def __init__(self, label: str, program: str, path: str, agent: bool, cp: bool = False):
        self.label, self.program, self.path, self.agent = label, program, path, agent
        self.cp = cp  # CircuitPython's port: through an adafruit_requests session


def run_mp(code: str, flash: Path, col: Column, path: str | None = None, heap: int | None = None):
    """Runs code in flash; -> what it printed after @@, None if it failed in a small heap."""
    f = flash / "_bench.py"
    f.write_text(code)
    cmd = [col.program] + (["-X", f"heapsize={heap}k"] if heap else []) + [f.name]
    p = subprocess.run(
        cmd,
        cwd=flash,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, MICROPYPATH=f"{path or col.path}:.frozen"),
    )
    for line in p.stdout.splitlines():
        if line.startswith("@@"):
            return line[2:]
    if heap is None:
        raise BenchError(f"bench script failed:\n{p.stdout}\n{p.stderr}")
    return None


def fresh_flash(flash: Path, cfg: dict) -> None:
    for p in flash.glob("auth.state*"):
        p.unlink()
    (flash / "auth.json").write_text(json.dumps(cfg))


def smallest_heap(code: str, work: Path, col: Column, cfg: dict, path: str | None = None) -> int:
    """The smallest -X heapsize (KB) from which the script prints @@ok in this and the next
    STEADY sizes: where it runs is not monotonic (a run can pass at 22 KB, fail at 23 by
    layout), so a lucky hole found by the bisection is not reported."""
    flash = Path(tempfile.mkdtemp(dir=work))

    def runs(kb: int) -> bool:
        fresh_flash(flash, cfg)
        return run_mp(code, flash, col, path, kb) is not None

    lo, hi = 1, 512
    if not runs(hi):
        raise BenchError(f"{col.label}: does not run even in 512 KB")
    while lo < hi:
        mid = (lo + hi) // 2
        if runs(mid):
            hi = mid
        else:
            lo = mid + 1
    kb = lo
    while kb <= 512:
        failed = next((k for k in range(kb, kb + STEADY + 1) if not runs(k)), None)
        if failed is None:
            return kb
        kb = failed + 1
    raise BenchError(f"{col.label}: runs in 512 KB, yet no steady smallest heap below it")


def endpoint(scheme: str, srv, ca: Path | None) -> tuple[dict, dict]:
    """The agent's auth.json and the naive script's variables for one endpoint."""
    url = srv.url("/auth/realms/demo/protocol/openid-connect/token")
    cfg = {
        "preset": "mydevices-admin",
        "realm": "demo",
        "client_id": CLIENT[0],
        "client_secret": CLIENT[1],
        "token_url": url,
    }
    if scheme == "https":
        cfg["ca"] = str(ca)
    else:
        cfg["insecure_http"] = True
    body = f"grant_type=client_credentials&client_id={CLIENT[0]}&client_secret={CLIENT[1]}"
    return cfg, {"url": url, "body": body}


def measure(cols: list[Column], cfg: dict, nv: dict, work: Path, pool, srv) -> dict:
    """Every figure of one endpoint for each column: {column label: {figure: value}}."""
    out = {}
    flash = Path(tempfile.mkdtemp(dir=work))
    for col in cols:
        fresh_flash(flash, cfg)
        agent, naive = (CP_AGENT, CP_NAIVE) if col.cp else (AGENT, NAIVE)
        spec = agent if col.agent else {k: v % nv for k, v in naive.items()}
        out[col.label] = json.loads(run_mp(MEASURE % spec, flash, col))
    jobs = {}
    for col in cols:
        survive = CP_SURVIVE if col.cp else SURVIVE
        for key, n in (("min_heap_kb", RENEWALS), ("min_heap_short_kb", SHORT)):
            code = survive["agent" if col.agent else "naive"] % dict(nv, n=n)
            jobs[col.label, key] = pool.submit(smallest_heap, code, work, col, cfg)
        if col.agent and col.path == str(MPY_DIR):
            # An agent installed as .py compiles each module on import: a higher peak.
            code = SURVIVE["agent"] % {"n": RENEWALS}
            jobs[col.label, "min_heap_py_kb"] = pool.submit(
                smallest_heap, code, work, col, cfg, str(FIRMWARE_DIR)
            )
    for (label, key), job in jobs.items():
        out[label][key] = job.result()
    for fig in out.values():
        fig["beyond"] = fig["rest"] - fig["tokens"] - fig["header"]
    for col in cols:
        if col.agent and not col.cp:
            for key, call in GAP_CALLS.items():
                out[col.label][key] = loop_gap(flash, col, cfg, call, srv)
    return out


def loop_gap(flash: Path, col: Column, cfg: dict, call: str, srv) -> int:
    """The ticker's largest gap (ms) while `call` obtains the first token from a slow server."""
    from tools.tokenserver.server import apply_control

    fresh_flash(flash, cfg)
    apply_control(srv.state, {"fault": {"mode": "slow", "seconds": SLOW, "count": 1}})
    return json.loads(run_mp(TICKER % call, flash, col))[1]


DEVICE = """
import gc, json, sys, time
%s
import iotauth
from iotauth import agent, device, endpoint, grant, http, store
a = iotauth.load()
a.on_code = lambda uri, code, full: None
r = {}
for step in ("authorization request", "pending poll", "poll that brings the token"):
    gc.collect()
    gc.disable()
    m = gc.mem_alloc()
    try:
        a.token()
    except iotauth.TransientError:
        pass
    r[step] = gc.mem_alloc() - m
    gc.enable()
    time.sleep(1.05)
print("@@" + json.dumps(r))
"""
STEPS = ("authorization request", "pending poll", "poll that brings the token")


def measure_device(srv, flash: Path, col: Column) -> dict:
    """Bytes allocated by each step of the device authorization grant (RFC 8628), its code
    loaded first."""
    srv.state.device_interval = 1
    srv.state.device_script = ["pending", "approve"]
    cfg = {
        "grant": "device_code",
        "client_id": "tv-1",
        "insecure_http": True,
        "token_url": srv.url("/oauth/token"),
        "device_authorization_url": srv.url("/oauth/device"),
    }
    fresh_flash(flash, cfg)
    return json.loads(run_mp(DEVICE % NO_COLLECT, flash, col))


# How a client proves itself on each token request (issue 20), over HTTPS to a server that
# asks every client for a certificate: the secret in the body, a signed assertion
# (client_secret_jwt), the device's key in the TLS handshake (mutual TLS).
AUTHS = (
    ("secret in the body", {"client_id": "device-1", "client_secret": "device-1-secret"}),
    (
        "client_secret_jwt",
        {
            "client_id": "device-jwt",
            "client_secret": "device-jwt-secret-0123456789abcdef",
            "client_auth": "jwt",
        },
    ),
    ("mutual TLS", {"client_id": "device-mtls", "client_auth": "tls"}),
)
AUTH_ROWS = [
    ("first token request (bytes allocated)", "first"),
    ("renewal: the grant again, no refresh token issued (bytes allocated)", "renew"),
    ("heap kept at rest after a renewal, code and data (bytes)", "rest"),
    (f"smallest -X heapsize: load + token + {SHORT} renewals (KB)", "min_heap_short_kb"),
]


def measure_auth(cols: list[Column], work: Path, pool, srv, certs: Certs, ca: Path) -> dict:
    """The agent's figures for each client authentication: {auth: {column: {figure: value}}}."""
    from tools import x509

    key = x509.new_key()
    (work / "device.crt").write_bytes(certs.issue(x509.csr(key, "device-mtls")))
    (work / "device.key").write_bytes(x509.key_der(key))
    flash = Path(tempfile.mkdtemp(dir=work))
    out: dict = {}
    jobs = {}
    for name, auth in AUTHS:
        cfg = dict(auth, grant="client_credentials", token_url=srv.url("/oauth/token"))
        cfg["ca"] = str(ca)
        if auth.get("client_auth") == "tls":
            cfg.update(cert=str(work / "device.crt"), key=str(work / "device.key"))
        out[name] = {}
        for col in cols:
            fresh_flash(flash, cfg)
            out[name][col.label] = json.loads(run_mp(MEASURE % AGENT, flash, col))
            code = SURVIVE["agent"] % {"n": SHORT}
            jobs[name, col.label] = pool.submit(smallest_heap, code, work, col, cfg)
    for (name, label), job in jobs.items():
        out[name][label]["min_heap_short_kb"] = job.result()
    return out


def auth_table(cols: list[Column], results: dict) -> str:
    w = max(len(r[0]) for r in AUTH_ROWS) + 2
    names = [n for n, _ in AUTHS]
    lines = []
    for col in cols:
        lines.append(f"\n{col.label}")
        lines.append(f"{'figure':<{w}}" + "".join(f"{n:>22}" for n in names))
        for label, key in AUTH_ROWS:
            lines.append(
                f"{label:<{w}}" + "".join(f"{results[n][col.label][key]:>22}" for n in names)
            )
    return "\n".join(lines)


# The modules in sys.modules after load + renewals (test_firmware checks the list), and
# those each renewal loads beside them; the others load for one use (config, fields and
# grant at boot; failure, tls, chunked) or for one feature (device, api, viarequests).
RESIDENT = ("__init__", "agent", "token")
RENEWAL = RESIDENT + ("endpoint", "http", "store")

IMPORTS = """
import gc, sys
m = 0
gc.collect()
m = gc.mem_alloc()
%s
gc.collect()
print("@@" + str(gc.mem_alloc() - m))
"""


def import_cost(flash: Path, col: Column, path: str | None = None, names=()) -> int:
    """Heap bytes that importing iotauth and the named submodules keeps."""
    code = "import iotauth" + ("\nfrom iotauth import " + ", ".join(names) if names else "")
    return int(run_mp(IMPORTS % code, flash, col, path))


ROWS = [
    ("first token request (bytes allocated)", "first"),
    ("renewal with the refresh token (bytes allocated)", "renew"),
    ("headers() + token() on a valid token (bytes per call pair)", "hot"),
    ("heap growth over 20 more renewals (bytes, after gc.collect)", "growth20"),
    ("heap kept at rest after a renewal, code and data (bytes)", "rest"),
    ("  of it beyond the tokens and the header (bytes)", "beyond"),
    ("bytes of the tokens kept (access + refresh)", "tokens"),
    (f"smallest -X heapsize: load + token + {RENEWALS} renewals (KB)", "min_heap_kb"),
    (f"smallest -X heapsize: load + token + {SHORT} renewals (KB)", "min_heap_short_kb"),
    ("  the same as the first with the agent from .py sources (KB)", "min_heap_py_kb"),
    (
        f"longest gap of a 10 ms task, server slow {SLOW} s: token() (ms)",
        "gap_block",
    ),
    ("  the same with await atoken() (ms)", "gap_async"),
]


def table(cols: list[Column], results: dict) -> str:
    naive, agents = cols[0].label, [c.label for c in cols[1:]]
    w = max(len(r[0]) for r in ROWS) + 2
    lines = []
    for scheme, res in results.items():
        note = " (the agent verifies the certificate; naive does not)" if scheme == "https" else ""
        lines.append(f"\n{scheme.upper()} on loopback{note}")
        lines.append(
            f"{'figure':<{w}}{naive:>8}" + "".join(f"{a:>14}{'ratio':>7}" for a in agents)
        )
        for label, key in ROWS:
            n = res[naive].get(key)
            row = f"{label:<{w}}{'-' if n is None or key == 'min_heap_py_kb' else n:>8}"
            for a in agents:
                v = res[a].get(key)
                ratio = f"{v / n:.2f}" if v is not None and n else "-"
                row += f"{'-' if v is None else v:>14}{ratio:>7}"
            lines.append(row)
    return "\n".join(lines)


def code_table(sizes: dict) -> str:
    w = 66
    rows = [
        ("import iotauth from .py (heap bytes)", "import_py"),
        ("import iotauth from .mpy (heap bytes)", "import_mpy"),
        ("import iotauth frozen (heap bytes)", "import_frozen"),
        ("  + the modules a renewal runs, from .mpy (heap bytes)", "renewal_mpy"),
        ("  + the modules a renewal runs, frozen (heap bytes)", "renewal_frozen"),
        ("size of the .mpy files (bytes)", "mpy_bytes"),
        ("  of which resident after a renewal (bytes)", "resident_mpy_bytes"),
        ("import requests, the baseline (heap bytes)", "import_naive"),
        ("smallest -X heapsize only to import the renewal code, .mpy (KB)", "import_only_kb"),
        ("smallest -X heapsize only to import requests (KB)", "import_only_naive_kb"),
    ]
    return "\n".join(f"{label:<{w}}{sizes[k]:>10}" for label, k in rows if k in sizes)


IMPORT_ONLY = {
    "agent": "import iotauth\nfrom iotauth import "
    + ", ".join(m for m in RENEWAL if m != "__init__")
    + "\nprint('@@ok')\n",
    "naive": "import requests\nprint('@@ok')\n",
}


def columns(pypi: bool) -> tuple[str, list[Column]]:
    """The runtime's name and its columns: naive first."""
    empty = str(ROOT / "build" / "bench-empty")  # a module path with nothing in it
    Path(empty).mkdir(parents=True, exist_ok=True)
    if pypi:
        try:
            mp = find_micropython()
        except ToolError as e:
            raise BenchError(str(e)) from None
        name = "PyPI's MicroPython unix port (64-bit, mbedtls outside the GC heap)"
        return name, [
            Column("naive", mp, empty, False),
            Column("agent .mpy", mp, str(MPY_DIR), True),
        ]
    from tools.port import ToolError as PortError
    from tools.port import ensure

    try:
        progs = {k: str(v) for k, v in ensure().items()}
    except PortError as e:
        raise BenchError(f"make port failed: {e}") from None
    name = "the board-faithful port (MicroPython v1.28.0, 32-bit, mbedtls in the GC heap)"
    plain, frozen = progs["unix-board"], progs["unix-board-frozen"]
    return name, [
        Column("naive", plain, empty, False),
        Column("agent .mpy", plain, str(MPY_DIR), True),
        Column("agent frozen", frozen, empty, True),
    ]


def cp_columns() -> list[Column]:
    """CircuitPython's port (make circuitpython): naive adafruit_requests, the agent given it."""
    from tools import cpdrive, cpport

    try:
        prog, cross = cpport.ensure()
        cpdrive.compile_all(cross, CP_OUT)  # lib/iotauth/*.mpy and lib/adafruit_*.mpy
    except (cpport.ToolError, cpdrive.ToolError) as e:
        raise BenchError(f"make circuitpython failed: {e}") from None
    path = f"{CP_OUT / 'lib'}:{ROOT / 'host_tests' / 'cp_shim'}"
    return [
        Column("naive", str(prog), path, False, cp=True),
        Column("agent .mpy", str(prog), path, True, cp=True),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--pypi", action="store_true", help="measure on PyPI's 64-bit unix port")
    args = ap.parse_args(argv)
    try:
        name, cols = columns(args.pypi)
        built = compile_to(MPY_DIR)
        sizes = {
            "mpy_bytes": sum(p.stat().st_size for p in built),
            "resident_mpy_bytes": sum(p.stat().st_size for p in built if p.stem in RESIDENT),
        }
        naive, mpy = cols[0], cols[1]
        with tempfile.TemporaryDirectory() as d, ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            work = Path(d)
            flash = work / "flash"
            flash.mkdir()
            certs = Certs(work / "certs", ["localhost", "127.0.0.1"])
            state = State()
            http_srv = serve(state)
            tls_srv = serve(state, certs.server_context())
            tls_srv.base = f"https://localhost:{tls_srv.port}"
            mtls_srv = serve(State(), certs.server_context(clients=True))
            mtls_srv.base = f"https://localhost:{mtls_srv.port}"
            try:
                modules = [m for m in RENEWAL if m != "__init__"]
                sizes["import_py"] = import_cost(flash, mpy, str(FIRMWARE_DIR))
                sizes["import_mpy"] = import_cost(flash, mpy)
                sizes["renewal_mpy"] = import_cost(flash, mpy, names=modules)
                if len(cols) > 2:
                    sizes["import_frozen"] = import_cost(flash, cols[2])
                    sizes["renewal_frozen"] = import_cost(flash, cols[2], names=modules)
                sizes["import_naive"] = int(run_mp(IMPORTS % "import requests", flash, naive))
                sizes["import_only_kb"] = smallest_heap(IMPORT_ONLY["agent"], work, mpy, {})
                sizes["import_only_naive_kb"] = smallest_heap(
                    IMPORT_ONLY["naive"], work, naive, {}
                )
                results = {}
                for scheme, srv, ca in (
                    ("http", http_srv, None),
                    ("https", tls_srv, certs.ca_der),
                ):
                    cfg, nv = endpoint(scheme, srv, ca)
                    results[scheme] = measure(cols, cfg, nv, work, pool, srv)
                auths = measure_auth(cols[1:], work, pool, mtls_srv, certs, certs.ca_der)
                device = measure_device(http_srv, flash, mpy)
                cp_cols = cp_columns()
                cfg, nv = endpoint("http", http_srv, None)
                cp_results = {"http": measure(cp_cols, cfg, nv, work, pool, http_srv)}
            finally:
                http_srv.close()
                tls_srv.close()
                mtls_srv.close()
        print(f"iotauth bench: {name}; Keycloak-shaped tokens")
        print(table(cols, results))
        print("\nCode")
        print(code_table(sizes))
        print(
            "\nClient authentication, HTTPS to a server asking for client certificates "
            "(the generic dialect's tokens)"
        )
        print(auth_table(cols[1:], auths))
        print("\nDevice authorization grant (RFC 8628), HTTP, .mpy, bytes allocated per step")
        for step in STEPS:
            print(f"{step:<66}{device[step]:>10}")
        print(
            "\nCircuitPython 10.2.1's unix port (a 64-bit build: objects twice a board's size), "
            "through an adafruit_requests Session; HTTP only (the port has no TLS)"
        )
        print(table(cp_cols, cp_results))
        out = ROOT / "build" / ("bench-pypi.json" if args.pypi else "bench.json")
        out.write_text(
            json.dumps(
                {
                    "runtime": name,
                    "results": results,
                    "sizes": sizes,
                    "device": device,
                    "client_auth": auths,
                    "circuitpython": cp_results,
                },
                indent=2,
            )
        )
        print(f"\nbench: figures written to {out.relative_to(ROOT)}")
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
