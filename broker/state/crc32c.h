/*
 * crc32c.h - CRC-32C (Castagnoli), the integrity check of store records.
 *
 * Records in LMDB carry their own check because LMDB 0.9 has no page
 * checksums (store.c). What the check must catch is damage - a bad sector,
 * a stray write, a record copied under another key - not forgery: anyone
 * who can write data.mdb can recompute any unkeyed hash, SHA-256 included.
 * CRC-32C detects every burst of up to 32 bits and any other damage with
 * odds of 2^-32 against, and SSE4.2 computes it in one instruction per 8
 * bytes, where SHA-256 was a third of the broker's instructions. The
 * audit chain, which is about tampering, keeps SHA-256 (audit.c).
 */
#ifndef BATON_CRC32C_H
#define BATON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continues a CRC-32C over p[0..n-1]: crc 0 to start, the result of the
 * previous call to go on. crc32c(0, "123456789", 9) == 0xe3069283.
 */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
/* The same by table, whatever the CPU has (for tests of either path). */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
