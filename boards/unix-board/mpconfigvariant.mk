# The board-faithful unix port (make port, tools/port.py): built with CROSS_COMPILE=i686-linux-gnu-
# (32-bit objects, as a board's), mbedtls in the GC heap (bare-metal allocation hooks, as rp2),
# no ffi (it would need a 32-bit libffi) and no btree (not in the vendored source).
MICROPY_PY_FFI = 0
MICROPY_PY_BTREE = 0
MICROPY_SSL_MBEDTLS = 1
CFLAGS += -DMICROPY_MBEDTLS_CONFIG_BARE_METAL=1
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
