/*
 * crc32c.c - CRC-32C (see crc32c.h): the SSE4.2 instruction where the CPU
 * has it (checked once, at the first call), else a 256-entry table built
 * at the first call. Both give the same value; tests compare them.
 */
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78u	/* Castagnoli, reflected */

static uint32_t table[256];
static int	table_ready;

static void
table_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		table[i] = c;
	}
	table_ready = 1;
}

uint32_t
crc32c_sw(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (!table_ready)
		table_init();
	crc = ~crc;
	while (n-- > 0)
		crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t
crc32c_hw(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t c = ~crc, w;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);	/* any alignment */
		c = _mm_crc32_u64(c, w);
	}
	for (; n > 0; n--)
		c = _mm_crc32_u8((uint32_t)c, *b++);
	return ~(uint32_t)c;
}

uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	static int hw = -1;	/* not yet known */

	if (hw == -1)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	return hw ? crc32c_hw(crc, p, n) : crc32c_sw(crc, p, n);
}
#else
uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	return crc32c_sw(crc, p, n);
}
#endif
