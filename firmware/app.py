# iotauth example application: keeps a valid token and calls a cloud API with it. MIT licence.
# Needs auth.json in flash (README: "Config"); app.json optionally sets the API URL, the
# longest pause between calls and how many calls to make (for the demo; default: forever).
# A board's main.py or code.py (boards/<board>/) brings up Wi-Fi and the clock, then calls
# run(), with an agent of its own making (CircuitPython's, given a session) or without.
import json
import time

import iotauth


def settings():
    try:
        with open("app.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def run(agent=None):
    app = settings()
    url = app.get("api_url", "http://127.0.0.1:8080/api/resource")
    interval = app.get("interval", 60)
    rounds = app.get("rounds")
    if agent is None:
        agent = iotauth.load()
    last = None
    n = 0
    while rounds is None or n < rounds:
        n += 1
        try:
            tok = agent.token()
            if last is None:
                print("main: token ready")
            elif tok != last:
                print("main: token renewed")
            last = tok
            r = agent.request("GET", url)  # a 401 makes the agent renew and retry once
            print("main: API answered", r.status_code)
            r.close()
        except iotauth.TransientError as e:
            print("main: no token yet, retry in", e.retry_after, "s:", e)
        except iotauth.CredentialsError as e:
            print("main: credentials refused:", e)
        except Exception as e:  # noqa: BLE001  # the API's client raises its own kinds too
            print("main: API unreachable:", e)  # (adafruit_requests' OutOfRetries)
        if rounds is not None and n >= rounds:
            break
        try:
            wait = agent.poll()  # renews ahead of expiry
        except iotauth.CredentialsError as e:  # once per refusal: the loop goes on
            print("main: credentials refused:", e)
            wait = interval
        time.sleep(min(wait, interval))
