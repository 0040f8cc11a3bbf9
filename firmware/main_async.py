# iotauth example on asyncio: a sensor task samples every 100 ms, a reporter sends the
# readings to the API with the agent's header, and the agent's helper renews the token ahead
# of expiry in the background. A renewal yields at every step (connect, TLS handshake, each
# read), so the sensor keeps its pace while the token server takes its time: the reporter
# prints the longest gap the sensor saw. Settings from app.json as app.py's (api_url,
# interval, rounds). On a board, bring Wi-Fi up first (netup, cpnet) and run this instead
# of app.py; on the unix port, against `make serve`. MIT licence.
import asyncio
import json
import time

import app

import iotauth

readings = []
gap = [0]  # the longest time between two samples, ms


async def sensor():
    last = time.ticks_ms()
    while True:
        await asyncio.sleep_ms(100)
        now = time.ticks_ms()
        gap[0] = max(gap[0], time.ticks_diff(now, last))
        last = now
        readings.append(len(readings))  # a stand-in for an ADC read
        del readings[:-20]  # the last two seconds


async def send(url, headers, body):
    # POST body to an http:// API with asyncio's streams: -> the status code. (A real app
    # uses its own async client: micropython-lib's aiohttp, or mqtt_as with the token.)
    host, _, path = url[7:].partition("/")
    host, _, port = host.partition(":")
    r, w = await asyncio.open_connection(host, int(port or 80))
    try:
        head = "POST /%s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\n" % (path, host)
        for k, v in headers.items():
            head += "%s: %s\r\n" % (k, v)
        w.write(head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await w.drain()
        status = await r.readline()
        return int(status.split()[1])
    finally:
        w.close()
        await w.wait_closed()


async def reporter(agent, url, interval, rounds):
    n = 0
    while rounds is None or n < rounds:
        n += 1
        try:
            h = await agent.aheaders()  # at once while the token is fresh
            status = await send(url, h, json.dumps(readings).encode())
            print("main_async: API answered", status, "- longest sensor gap", gap[0], "ms")
        except iotauth.TransientError as e:
            print("main_async: no token yet, retry in", e.retry_after, "s:", e)
        except iotauth.CredentialsError as e:
            print("main_async: credentials refused:", e)
        except OSError as e:
            print("main_async: API unreachable:", e)
        await asyncio.sleep(interval)


async def main():
    s = app.settings()
    agent = iotauth.load()
    asyncio.create_task(sensor())
    asyncio.create_task(agent.keep_fresh())  # renews ahead of expiry, as poll() would say
    url = s.get("api_url", "http://127.0.0.1:8080/api/resource")
    await reporter(agent, url, s.get("interval", 60), s.get("rounds"))


asyncio.run(main())
