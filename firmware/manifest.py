# Freezes iotauth into a custom firmware build: include this manifest from the board's one.
metadata(
    description="Keeps a valid OAuth2 access token for a MicroPython device.", version="0.1.0"
)
package("iotauth", opt=3)
# Frozen code costs no heap, data does: this marker has load() keep no composed requests.
module("iotauth/frozen.py", base_path="frozen", opt=3)
