/* codec/crc32c.h: CRC32C (Castagnoli), as iSCSI and ext4 use it. */
#ifndef CRAFT_CODEC_CRC32C_H
#define CRAFT_CODEC_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over buf. Uses SSE4.2 when the CPU has it.
 * Chains: craft_crc32c(craft_crc32c(0, a, na), b, nb) is the CRC of a||b.
 * buf may be NULL when len is 0. Thread-safe (no state). */
uint32_t craft_crc32c(uint32_t crc, const void *buf, size_t len);

/* Internal, for tests and benchmarks: the portable slicing-by-8 path and
 * whether craft_crc32c() takes the SSE4.2 path on this CPU. Same contract
 * and results as craft_crc32c(). */
uint32_t craft_crc32c_sw(uint32_t crc, const void *buf, size_t len);
int craft_crc32c_hw_available(void);

#endif
