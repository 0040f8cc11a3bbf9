"""`make bench`: the agent's allocation and size figures beside the naive `requests` baseline,
both measured in the same run on the real MicroPython unix port against the local token server
(Keycloak-shaped tokens: the myDevices admin dialect). Writes build/bench.json too.

Allocation figures are exact: `gc.disable()` and `gc.mem_alloc()` deltas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = ROOT / "firmware"
sys.path.insert(0, str(ROOT))

from tools.build import OUT as MPY_DIR  # noqa: E402
from tools.build import ToolError, compile_to  # noqa: E402
from tools.build import micropython as find_micropython  # noqa: E402
from tools.tokenserver.certs import Certs  # noqa: E402
from tools.tokenserver.server import State, serve  # noqa: E402

CLIENT = ("md-admin", "md-admin-secret")
RENEWALS = 100
STEADY = 3  # sizes above the smallest heap that must run too

MEASURE = """
import gc
gc.collect()
m0 = gc.mem_alloc()
%(imports)s
gc.collect()
r = {"import": gc.mem_alloc() - m0}
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
r["retained"] = gc.mem_alloc() - m0
r["tokens"] = %(token_bytes)s
print("@@" + json.dumps(r))
"""

NO_COLLECT = (
    "class _NoCollect:\n    def collect():\n        pass\nagent.gc = renew.gc = _NoCollect"
)

AGENT = {
    "imports": "import json, iotauth\n"
    "from iotauth import agent, http, jsonscan, renew, store",  # code loads apart (config: freed)
    # A renewal collects twice (before the request, before the tokens are made), which would
    # take garbage off a mem_alloc delta: skipped while measuring, so the figures count every
    # byte allocated.
    "setup": "a = iotauth.load()\n" + NO_COLLECT,
    "first": "a.token()",
    "renew": "a.invalidate()\na.token()",
    "hot": "    a.headers()\n    a.token()",
    "renew_indented": "    a.invalidate()\n    a.token()",
    "token_bytes": "len(a._tok.access) + len(a._tok.refresh)",
}

NAIVE = {
    "imports": "import json, requests",
    "setup": "URL = %(url)r\nBODY = %(body)r\n"
    "H = {'Content-Type': 'application/x-www-form-urlencoded'}\ntok = None",
    "first": "tok = requests.post(URL, data=BODY, headers=H).json()",
    "renew": "tok = requests.post(URL, data='grant_type=refresh_token&refresh_token=' + "
    "tok['refresh_token'] + '&' + BODY[30:], headers=H).json()",
    "hot": "    h = {'Authorization': 'Bearer ' + tok['access_token']}",
    "renew_indented": "    tok = requests.post(URL, data='grant_type=refresh_token&"
    "refresh_token=' + tok['refresh_token'] + '&' + BODY[30:], headers=H).json()",
    "token_bytes": "len(tok['access_token']) + len(tok['refresh_token'])",
}

SURVIVE = {
    "agent": "import iotauth\na = iotauth.load()\na.token()\n"
    f"for i in range({RENEWALS}):\n    a.invalidate()\n    a.token()\nprint('@@ok')\n",
    "naive": "import requests\nURL = %(url)r\nBODY = %(body)r\n"
    "H = {'Content-Type': 'application/x-www-form-urlencoded'}\n"
    "tok = requests.post(URL, data=BODY, headers=H).json()\nfor i in range(%(n)d):\n"
    "    tok = requests.post(URL, data='grant_type=refresh_token&refresh_token=' + "
    "tok['refresh_token'] + '&' + BODY[30:], headers=H).json()\n"
    "    assert 'access_token' in tok\nprint('@@ok')\n",
}


class BenchError(Exception):
    pass


def micropython() -> str:
    try:
        return find_micropython()
    except ToolError as e:
        raise BenchError(str(e)) from None


def run_mp(code: str, flash: Path, path: str, heap: str | None = None) -> str | None:
    f = flash / "_bench.py"
    f.write_text(code)
    cmd = [micropython()] + (["-X", f"heapsize={heap}"] if heap else []) + [f.name]
    p = subprocess.run(
        cmd,
        cwd=flash,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, MICROPYPATH=f"{path}:.frozen"),
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


def smallest_heap(code: str, flash: Path, path: str, cfg: dict) -> int:
    """The smallest -X heapsize (KB) from which the script prints @@ok in this and the next
    STEADY sizes: where it runs is not monotonic (a run can pass at 22 KB, fail at 23 by
    layout), so a lucky hole found by the bisection is not reported."""

    def runs(kb: int) -> bool:
        fresh_flash(flash, cfg)
        return run_mp(code, flash, path, f"{kb}k") is not None

    lo, hi = 1, 512
    if not runs(hi):
        raise BenchError("does not run even in 512 KB")
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
    raise BenchError("runs in 512 KB, yet no steady smallest heap below it")


def measure(scheme: str, srv, flash: Path, ca: Path | None, mpy: str) -> dict:
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
    naive_vars = {"url": url, "body": body, "n": RENEWALS}
    fresh_flash(flash, cfg)
    agent = json.loads(run_mp(MEASURE % AGENT, flash, mpy))
    naive_fill = {k: (v % naive_vars if k == "setup" else v) for k, v in NAIVE.items()}
    naive = json.loads(run_mp(MEASURE % naive_fill, flash, mpy))
    agent["min_heap_kb"] = smallest_heap(SURVIVE["agent"], flash, mpy, cfg)
    naive["min_heap_kb"] = smallest_heap(SURVIVE["naive"] % naive_vars, flash, mpy, cfg)
    # An agent installed as .py compiles each module on import: a higher peak.
    agent["min_heap_py_kb"] = smallest_heap(SURVIVE["agent"], flash, str(FIRMWARE_DIR), cfg)
    naive["min_heap_py_kb"] = naive["min_heap_kb"]  # requests is frozen in: no .py to compile
    return {"agent": agent, "naive": naive}


DEVICE = """
import gc, json, time, iotauth
from iotauth import agent, device, grant, http, jsonscan, renew, store
a = iotauth.load()
%s
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


def measure_device(srv, flash: Path, mpy: str) -> dict:
    """Bytes allocated by each step of the device authorization grant (RFC 8628)."""
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
    return json.loads(run_mp(DEVICE % NO_COLLECT, flash, mpy))


def import_cost(flash: Path, path: str) -> int:
    code = (
        "import gc\ngc.collect()\nm = gc.mem_alloc()\nimport iotauth\n"
        "gc.collect()\nprint('@@' + str(gc.mem_alloc() - m))\n"
    )
    return int(run_mp(code, flash, path))


# The modules in sys.modules after load + renewals (test_firmware checks the list); the
# others load for one use (config, restore, failure, expiry, tls, chunked) or for one feature.
RESIDENT = ("__init__", "agent", "clock", "token", "renew", "http", "jsonscan", "store")

ROWS = [
    ("first token request (bytes allocated)", "first"),
    ("renewal with the refresh token (bytes allocated)", "renew"),
    ("headers() + token() on a valid token (bytes per call pair)", "hot"),
    ("heap growth over 20 more renewals (bytes, after gc.collect)", "growth20"),
    ("heap retained after renewals, incl. code (bytes)", "retained"),
    ("bytes of the tokens kept (access + refresh)", "tokens"),
    (f"smallest -X heapsize for load + token + {RENEWALS} renewals (KB)", "min_heap_kb"),
    ("  the same with the agent from .py sources (KB)", "min_heap_py_kb"),
]


# Only the imports, nothing run: the heap the renewal path's code needs before any data.
IMPORT_ONLY = {
    "agent": "import iotauth\nfrom iotauth import "
    + ", ".join(m for m in RESIDENT if m != "__init__")
    + "\nprint('@@ok')\n",
    "naive": "import requests\nprint('@@ok')\n",
}


def table(results: dict, sizes: dict) -> str:
    lines = []
    w = max(len(r[0]) for r in ROWS) + 2
    for scheme, res in results.items():
        note = (
            " (agent verifies the certificate; naive requests does not)"
            if scheme == "https"
            else ""
        )
        lines.append(f"\n{scheme.upper()} on loopback{note}")
        lines.append(f"{'figure':<{w}}{'iotauth':>10}{'naive':>10}{'ratio':>8}")
        for label, key in ROWS:
            a, n = res["agent"][key], res["naive"][key]
            ratio = f"{a / n:.2f}" if n else "-"
            lines.append(f"{label:<{w}}{a:>10}{n:>10}{ratio:>8}")
    lines.append("\nCode")
    lines.append(f"{'import iotauth from .py (heap bytes)':<{w}}{sizes['import_py']:>10}")
    lines.append(f"{'import iotauth from .mpy (heap bytes)':<{w}}{sizes['import_mpy']:>10}")
    lines.append(
        f"{'  + the modules a renewal loads, with the HTTP buffer (.mpy)':<{w}}"
        f"{results['http']['agent']['import']:>10}"
    )
    lines.append(f"{'size of the .mpy files (bytes)':<{w}}{sizes['mpy_bytes']:>10}")
    lines.append(
        f"{'  of which resident after a renewal (bytes)':<{w}}{sizes['resident_mpy_bytes']:>10}"
    )
    lines.append(
        f"{'import requests, the baseline (heap bytes)':<{w}}"
        f"{results['http']['naive']['import']:>10}"
    )
    lines.append(
        f"{'smallest -X heapsize only to import the renewal code (KB)':<{w}}"
        f"{sizes['import_only_kb']:>10}"
    )
    lines.append(
        f"{'smallest -X heapsize only to import requests (KB)':<{w}}"
        f"{sizes['import_only_naive_kb']:>10}"
    )
    return "\n".join(lines)


def main() -> int:
    try:
        built = compile_to(MPY_DIR)
        sizes = {
            "mpy_bytes": sum(p.stat().st_size for p in built),
            "resident_mpy_bytes": sum(p.stat().st_size for p in built if p.stem in RESIDENT),
        }
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            flash = work / "flash"
            flash.mkdir()
            certs = Certs(work / "certs", ["localhost", "127.0.0.1"])
            state = State()
            http_srv = serve(state)
            tls_srv = serve(state, certs.server_context())
            tls_srv.base = f"https://localhost:{tls_srv.port}"
            mpy = str(MPY_DIR)
            try:
                sizes["import_py"] = import_cost(flash, str(FIRMWARE_DIR))
                sizes["import_mpy"] = import_cost(flash, mpy)
                sizes["import_only_kb"] = smallest_heap(IMPORT_ONLY["agent"], flash, mpy, {})
                sizes["import_only_naive_kb"] = smallest_heap(IMPORT_ONLY["naive"], flash, mpy, {})
                results = {
                    "http": measure("http", http_srv, flash, None, mpy),
                    "https": measure("https", tls_srv, flash, certs.ca_der, mpy),
                }
                device = measure_device(http_srv, flash, mpy)
            finally:
                http_srv.close()
                tls_srv.close()
        print("iotauth bench: MicroPython unix port, agent from .mpy, Keycloak-shaped tokens")
        print(table(results, sizes))
        print("\nDevice authorization grant (RFC 8628), HTTP, bytes allocated per step")
        for step in ("authorization request", "pending poll", "poll that brings the token"):
            print(f"{step:<64}{device[step]:>10}")
        out = ROOT / "build" / "bench.json"
        out.write_text(
            json.dumps({"results": results, "sizes": sizes, "device": device}, indent=2)
        )
        print(f"\nbench: figures written to {out.relative_to(ROOT)}")
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
