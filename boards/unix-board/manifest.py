# What the boards freeze that the agent and its examples use (their bundle-networking):
# ssl and requests, as on a Pico W or an ESP32.
include("$(PORT_DIR)/variants/manifest.py")
require("requests")
require("ntptime")
