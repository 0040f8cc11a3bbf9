# iotauth aio: renewals on asyncio that never hold the event loop. The agent's own renewal
# runs as for the blocking calls (the same policy, back-off and state write); where it would
# send a request it stops (_Exchange), the request goes out here with every step yielding
# to the loop (connect, TLS handshake, write, each read), and the renewal runs again, given
# the answer. Tasks that find a renewal in flight wait for it: one request serves them all.
# Loaded for each async renewal. MIT licence.
import asyncio

from . import use
from . import TransientError
from .http import answer, late, message, reading, resolve, took, window
from .token import time


class _Send(Exception):
    # The renewal reached a request: sent by obtain(), then the renewal runs again.
    pass


class _Exchange:
    # The transport the renewal sees while it runs under obtain(): the answer to the
    # request it asked for last time, else the request is kept and _Send raised. Matched by
    # endpoint and head, not body: a body may differ at every composing (client_auth jwt
    # signs a fresh assertion), and a renewal asks again, in the same order, for the
    # requests it made before (a refused refresh token, then the primary grant).
    def __init__(self):
        self.req = None
        self.ans = None

    def post(self, cfg, parts, head, body):
        q, a = self.req, self.ans
        if a is not None and q[0] is parts and q[1] == head:
            self.req = self.ans = None
            if isinstance(a, BaseException):
                raise a  # the failure sending met, judged by the renewal as the blocking one
            return a
        self.req = (parts, head, body)
        self.ans = None
        raise _Send()


def methods(agent):
    # The agent's async API, bound to it (agent.__getattr__). A fresh token is returned
    # without a call below: nothing allocated beyond the coroutine. flight[0]: the Event of
    # the renewal in flight, which other tasks wait on.
    flight = [None]

    def fast():
        t = agent._tok
        return t is not None and t.fresh() and len(agent._hdrs) > 0

    async def atoken():
        if not fast():
            await obtain(agent, flight)
        return agent._tok.access

    async def aheaders():
        if not fast():
            await obtain(agent, flight)
        return agent._hdrs

    async def apoll():
        # poll(), renewing here: then poll() says when to come back (with a fresh token or
        # a back-off running, it sends nothing).
        try:
            agent._resolve()
            await atoken()
        except (TransientError, MemoryError):
            pass  # the back-off is set: poll() returns it
        if flight[0] is not None:
            return 1  # another task's renewal is out: poll() would send it again, blocking
        return agent.poll()

    async def keep_fresh():
        # Renews ahead of expiry for as long as the task runs, at apoll()'s times.
        while True:
            await asyncio.sleep(await apoll())

    return {"atoken": atoken, "aheaders": aheaders, "apoll": apoll, "keep_fresh": keep_fresh}


async def obtain(agent, flight):
    # Makes the agent's token fresh, as agent._obtain() does, the requests sent here.
    while flight[0] is not None:
        if agent._ready():
            return  # a valid token serves while another task renews it
        await flight[0].wait()
    cfg = agent._cfg
    if cfg.via != "http":
        # A session or requests module blocks in its own calls: renew as the blocking API.
        agent._obtain()
        return
    flight[0] = done = asyncio.Event()
    x = _Exchange()
    try:
        while True:
            cfg.io = x
            try:
                agent._obtain()
                return
            except _Send:
                pass
            finally:
                cfg.io = None
            agent._ready()  # the token, if still valid, serves while the request is out
            parts, head, body = x.req  # pyright: ignore[reportGeneralTypeIssues]
            try:
                x.ans = await post(cfg, parts, head, body)
            except (TransientError, MemoryError) as e:
                x.ans = e  # pyright: ignore[reportAttributeAccessIssue]
    finally:
        flight[0] = None
        done.set()


async def post(cfg, parts, head, body):
    # http.post on asyncio: -> (status, head, body). Every step is bounded by the timeout,
    # the whole answer by twice it, as the blocking client's; TransientError otherwise.
    ms = cfg.timeout * 1000
    s = st = None
    try:
        s = _open(parts, cfg.ca, cfg)
        st = asyncio.StreamWriter(s)  # MicroPython's Stream: it reads too
        b, n = message(parts, head, body)
        try:
            st.write(memoryview(b)[:n])  # the TLS handshake runs as the request is written
            await asyncio.wait_for_ms(st.drain(), ms)  # connected, handshake done, sent
        except ValueError as e:  # MicroPython: the certificate did not verify
            raise TransientError("TLS error: " + str(e).strip())
        r = reading(b)
        b = None
        start = time.ticks_ms()
        while True:
            late(start, cfg.timeout)
            w = window(r)
            if w is None:
                break
            got = await asyncio.wait_for_ms(st.readinto(w), ms)  # pyright: ignore
            if got is not None and not took(r, got):  # None: no whole TLS record yet
                break
        return answer(r, parts)
    except asyncio.TimeoutError:  # noqa: UP041 (MicroPython's asyncio has its own)
        raise TransientError("timed out: no answer in %d s" % cfg.timeout)
    except OSError as e:
        parts[5] = None  # the address may have moved: ask DNS again next time
        raise TransientError(use("failure").reason(e))
    except (ValueError, IndexError):
        raise TransientError("malformed HTTP response")
    finally:
        if s is not None:
            s.close()


def _open(parts, ca, cfg):
    # A non-blocking socket connecting to the endpoint, wrapped for TLS verified against
    # ca when https (with cfg's client certificate, if any); the connection and the
    # handshake complete as it is written to. DNS is the one step asyncio cannot make wait:
    # resolved once and reused, as http does.
    import socket
    from errno import EINPROGRESS

    ai = resolve(parts)
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(ai[-1])
    except OSError as e:
        if e.errno != EINPROGRESS:
            s.close()
            raise
    if parts[0]:
        c = use("tls").context(ca, cfg)
        s = c.wrap_socket(s, server_hostname=parts[1], do_handshake_on_connect=False)
        s.setblocking(False)
    return s
