"""Expiry on a board's clock: ticks that wrap every 2**30 ms, lifetimes from an hour to a year,
an RTC that is unset at boot, an ESP32 counting from 2000, and NTP setting the clock."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from test_grants import generic, grants

import boardtime
from conftest import write_config
from iotauth import clock, expiry
from iotauth.token import Token

LIFETIMES = [3600, 86400, 60 * 86400, 365 * 86400]


@pytest.mark.parametrize("life", LIFETIMES)
def test_deadline_across_tick_wraps_freezegun(life):
    with freeze_time("2026-03-01 00:00:00") as frozen:
        boardtime.ticks_offset = boardtime.PERIOD - 500 - int(boardtime.ticks_ms())
        lead = 120
        tok = Token("a", life=life, lead=lead)
        step = 3600  # what poll() asks for at most
        elapsed = 0
        wraps = 0
        last = boardtime.ticks_ms()
        while elapsed < life + 2 * step:
            frozen.tick(step)
            elapsed += step
            now = boardtime.ticks_ms()
            wraps += now < last
            last = now
            assert tok.expires_in() == life - elapsed
            assert tok.fresh() == (elapsed < life - lead)
            assert tok.valid() == (elapsed < life)
        assert wraps == 1 + (elapsed * 1000 - 500) // boardtime.PERIOD


def test_unobserved_past_half_a_period_counts_as_expired():
    tok = Token("a", life=365 * 86400)
    boardtime.advance((1 << 29) / 1000 + 10)  # ticks_diff can no longer tell
    assert not tok.valid()


MP_WRAP = """
from iotauth.token import Token
clock.off += clock.period - 500 - clock.ticks_ms()
life = %d
tok = Token("a", None, life, None, 120)
elapsed = 0
bad = []
while elapsed < life + 7200:
    advance(3600)
    elapsed += 3600
    if tok.expires_in() != life - elapsed or tok.fresh() != (elapsed < life - 120):
        bad.append(elapsed)
out("bad", bad)
out("ticks", clock.ticks_ms())
"""


@pytest.mark.parametrize("life", LIFETIMES)
def test_deadline_across_tick_wraps_unix_port(life, flash, figure):
    from harness import Runner

    res = Runner("micropython", flash).run(MP_WRAP % life)
    assert res["bad"] == [] and res["ticks"] < (1 << 30)
    figure(
        f"token of {life} s across 2**30 ms tick wraps",
        "pass",
        f"{life // 3600 + 2} hourly checks exact, {1 + (life * 1000 - 500) // (1 << 30)} wraps",
    )


def test_unset_rtc_uses_persisted_token_until_401(runner, server, flash):
    write_config(flash, generic(server))
    first = runner.run("import iotauth\nout('t', iotauth.load().token())\n")
    # Reboot with the RTC at its power-on value: the token is used, its expiry unknown...
    res = runner.run(f"""
import iotauth
rtc_unset()
a = iotauth.load()
out("t", a.token())
out("left", a._tok.expires_in())
r = a.request("GET", {server.url("/api/resource")!r})
out("s", r.status_code)
""")
    assert res["t"] == first["t"] and res["left"] is None and res["s"] == 200
    assert len(server.state.requests) == 1


def test_rtc_set_after_boot_judges_persisted_token(runner, server, flash):
    write_config(flash, generic(server))
    server.state.lifetime = 7200
    runner.run("import iotauth\niotauth.load().token()\n")
    res = runner.run("""
import iotauth
rtc_unset()
a = iotauth.load()
out("before", a._tok.expires_in())
advance(1000)
rtc_unset(False)
a.poll()   # NTP has set the clock: the persisted expiry is now judged
out("after", a._tok.expires_in())
""")
    assert res["before"] is None
    assert 7200 - 1000 - 5 <= res["after"] <= 7200 - 1000
    assert len(server.state.requests) == 1


def test_ntp_jump_does_not_move_expiry(runner, server, flash):
    write_config(flash, generic(server))
    res = runner.run("""
import iotauth
rtc_unset()
a = iotauth.load()
a.token()
out("before", a._tok.expires_in())
rtc_unset(False)
out("after", a._tok.expires_in())
out("poll", a.poll())
""")
    assert 3595 <= res["before"] <= 3600 and res["after"] == res["before"]
    assert res["poll"] > 3000


def test_esp32_epoch(runner, server, flash):
    # time.time() counts from 2000 there: persisted expiry and JWT exp must still agree.
    write_config(flash, generic(server))
    server.state.lifetime = 5000
    set2000 = """
if sys.implementation.name == "micropython":
    clock.epoch = 2000
else:
    boardtime.epoch = 2000
"""
    runner.run(set2000 + "import iotauth\niotauth.load().token()\n")
    res = runner.run(
        set2000 + "import iotauth\na = iotauth.load()\nout('left', a._tok.expires_in())\n"
    )
    assert 4990 <= res["left"] <= 5000
    (flash / "auth.state").unlink(missing_ok=True)
    (flash / "auth.state.1").unlink(missing_ok=True)
    server.state.faults.clear()
    from tools.tokenserver.server import apply_control

    apply_control(server.state, {"fault": {"mode": "expires_missing"}})
    res = runner.run(
        set2000 + "import iotauth\na = iotauth.load()\na.token()\n"
        "out('left', a._tok.expires_in())\n"
    )
    assert 4990 <= res["left"] <= 5000
    assert [s for _, s in grants(server)] == [200, 200]


def test_unix_seconds_need_a_set_clock():
    boardtime.rtc_unset = True
    assert clock.unix() is None
    boardtime.rtc_unset = False
    boardtime.epoch = 2000
    import time as real

    assert abs(clock.unix() - real.time()) < 2


def test_retry_after_http_date():
    with freeze_time("2026-05-01 12:00:00"):
        assert expiry.retry_after("Fri, 01 May 2026 12:02:00 GMT") == 120
        assert expiry.retry_after("Fri, 01 May 2026 11:00:00 GMT") == 0
        assert expiry.retry_after(" 30 ") == 30
        assert expiry.retry_after("soon") is None
        assert expiry.retry_after(None) is None
