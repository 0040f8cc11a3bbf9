# CircuitPython on an ESP32-S3: the agent makes its own adafruit_requests Session from
# wifi.radio, loading the CA file named by `ca` into its SSL context (a private CA, such as
# `make serve`'s). Copy with `make circuitpy DRIVE=/media/$USER/CIRCUITPY BOARD=cp-esp32s3
# CONFIG=auth.json`; secrets in settings.toml (tools.provision new PRESET --circuitpython).
# The state goes to the 8 KB of microcontroller.nvm while CIRCUITPY is read-only to code.
# MIT licence.
import time

import app
import cpnet

import iotauth

while True:
    try:
        pool = cpnet.up()
        break
    except OSError as e:
        print("code: network not up:", e, "- again in 30 s")
        time.sleep(30)
cpnet.clock(pool)
app.run(iotauth.load())
