// The board-faithful unix port (make port): MicroPython v1.28.0 built 32-bit, with mbedtls
// allocating from the GC heap as on rp2 (MICROPY_TRACKED_ALLOC), so that a TLS handshake
// costs the heap what it costs a Pico W. MIT licence.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
#define MICROPY_TRACKED_ALLOC (1)
#include "variants/mpconfigvariant_common.h"
