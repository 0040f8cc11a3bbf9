"""Expiry on a board's clock: ticks that wrap every 2**30 ms, lifetimes from an hour to a year,
an RTC that is unset at boot, an ESP32 counting from 2000, and NTP setting the clock."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from test_grants import generic, grants

import boardtime
from conftest import write_config
from iotauth import failure
from iotauth import token as clock
from iotauth.token import Token
from tools.tokenserver.server import apply_control

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


def test_unobserved_past_half_a_period_counts_as_expired_without_a_wall_clock():
    boardtime.rtc_unset = True
    tok = Token("a", life=365 * 86400)
    boardtime.advance((1 << 29) / 1000 + 10)  # ticks_diff can no longer tell
    assert not tok.valid()


def test_unobserved_past_half_a_period_is_judged_by_the_wall_clock():
    tok = Token("a", life=365 * 86400)
    boardtime.advance((1 << 29) / 1000 + 10)
    assert tok.valid() and abs(tok.expires_in() - (365 * 86400 - 536881)) <= 2


MP_WRAP = """
from iotauth.token import Token
advance((clock.period - 500 - clock.ticks_ms()) / 1000)  # 0.5 s before ticks wrap
life = %d
tok = Token("a", None, life, None, 120)
elapsed = 0
bad = []
while elapsed < life + 7200:
    advance(3600)
    elapsed += 3600
    # the wall clock judges each hourly look: whole seconds, so within 1 s of the ticks
    if abs(tok.expires_in() - (life - elapsed)) > 1 or tok.fresh() != (elapsed < life - 120):
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
        f"{life // 3600 + 2} hourly checks within 1 s, "
        f"{1 + (life * 1000 - 500) // (1 << 30)} wraps",
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
    clock._off = None  # another board: its epoch is read afresh
    import time as real

    assert abs(clock.unix() - real.time()) < 2


def test_retry_after_http_date():
    with freeze_time("2026-05-01 12:00:00"):
        assert failure.retry_after("Fri, 01 May 2026 12:02:00 GMT") == 120
        assert failure.retry_after("Fri, 01 May 2026 11:00:00 GMT") == 0
        assert failure.retry_after(" 30 ") == 30
        assert failure.retry_after("soon") is None
        assert failure.retry_after(None) is None


# Long pauses between calls (a weekly wake, a long light sleep, a blocked loop): with the RTC
# set, deadlines are judged by the wall clock, whatever the 2**30 ms ticks did meanwhile.
DAY = 86400


def test_gap_of_13_days_renews_a_24h_token(runner, server, flash):
    # 13 days is one ticks wrap plus 13.6 hours: by ticks alone, 10 hours would be left.
    write_config(flash, generic(server))
    server.state.lifetime = DAY
    res = runner.run("""
import iotauth
a = iotauth.load()
t1 = a.token()
advance(13 * 86400)
out("renewed", a.token() != t1)
out("left", a._tok.expires_in())
""")
    assert res["renewed"] and DAY - 5 <= res["left"] <= DAY
    assert [s for _, s in grants(server)] == [200, 200]


def test_year_token_woken_weekly_for_a_year(runner, server, flash):
    # A week is more than half a ticks period: by ticks alone every wake would renew.
    write_config(flash, generic(server))
    server.state.lifetime = 365 * DAY
    res = runner.run("""
import iotauth
a = iotauth.load()
a.token()
polls = []
for week in range(60):
    advance(7 * 86400)
    polls.append(a.poll())
out("polls", polls)
""")
    # One request at boot, one at expiry (week 53: day 371); none in between.
    assert [s for _, s in grants(server)] == [200, 200]
    assert all(p >= 1 for p in res["polls"])


def test_gap_of_366_days_renews_a_year_token(runner, server, flash):
    write_config(flash, generic(server))
    server.state.lifetime = 365 * DAY
    res = runner.run("""
import iotauth
a = iotauth.load()
t1 = a.token()
advance(366 * 86400)
out("renewed", a.token() != t1)
""")
    assert res["renewed"]
    assert [s for _, s in grants(server)] == [200, 200]


def _provisioned_refresh(server, token="prov-rt-1"):
    """A refresh token made by the server for md-user, as `provision login` would bring."""
    import time

    from tools.tokenserver.server import Issued

    server.state.refresh[token] = Issued(
        token, "md-user", server.state.users["user@example.com"], "profile email",
        time.time() + 30 * DAY,
    )  # fmt: skip
    apply_control(server.state, {"refresh_lifetime": 30 * DAY})
    return {
        "grant": "refresh_token",
        "token_url": server.url("/v1.0/oauth/token"),
        "client_id": "md-user",
        "client_secret": "md-user-secret",
        "refresh_token": token,
        "insecure_http": True,
    }


@pytest.mark.parametrize("rtc", ["set", "unset"])
def test_rotated_refresh_token_is_kept_across_a_long_gap(rtc, runner, server, flash):
    # The server rotates and revokes the provisioned token at the first refresh. After a
    # week without a call the rotated one is still valid (30 days) and must be the one sent:
    # the provisioned one would be refused (and RFC 9700 servers revoke the whole family).
    write_config(flash, _provisioned_refresh(server))
    res = runner.run(
        ("rtc_unset()\n" if rtc == "unset" else "")
        + """
import iotauth
a = iotauth.load()
t1 = a.token()
advance(7 * 86400)
try:
    out("renewed", a.token() != t1)
except iotauth.AuthError as e:
    out("e", err(e))
"""
    )
    assert res.get("renewed"), res
    sent = [r["form"]["refresh_token"] for r in server.state.requests]
    assert grants(server) == [("refresh_token", 200), ("refresh_token", 200)]
    assert sent[0] == "prov-rt-1" and sent[1] != "prov-rt-1"


POLL_ALLOC = """
import gc, iotauth
rtc_unset()   # NTP never answers
a = iotauth.load()
a.poll()
m0 = m1 = i = 0
gc.collect()
gc.disable()
m0 = gc.mem_alloc()
for i in range(10):
    a.poll()
m1 = gc.mem_alloc()
gc.enable()
out("per_poll", (m1 - m0) // 10)
out("wall", a._wall is not None)
"""


def test_poll_before_ntp_does_not_reload_the_restore_code(server, flash):
    # A persisted token waits for the RTC to be judged; until NTP answers, each poll() must
    # not import the restore module again (3.7 KB a poll, forever if NTP never answers).
    from harness import Runner

    write_config(flash, generic(server))
    runner = Runner("micropython", flash)
    runner.run("import iotauth\niotauth.load().token()\n")
    res = runner.run(POLL_ALLOC)
    assert res["wall"] and res["per_poll"] < 256, res
