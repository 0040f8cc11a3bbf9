# What the boards freeze that the agent and its examples use (their bundle-networking):
# ssl and requests, as on a Pico W or an ESP32.
include("$(PORT_DIR)/variants/manifest.py")
require("requests")
require("ntptime")
# asyncio, frozen on the boards too (their manifests include it)
include("$(MPY_DIR)/extmod/asyncio")
