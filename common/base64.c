/*
 * base64.c - RFC 4648 base64.
 *
 * The encoder reads 3 bytes as one 24-bit group and looks up its four
 * 6-bit parts in the alphabet: no branch per byte, and the compiler keeps
 * the loop tight.  The decoder maps each character through a 256-entry
 * table in which anything outside the alphabet has bit 7 set; it ORs the
 * table values of a group together and checks that bit once per group
 * instead of once per character.
 */
#include "base64.h"

#include <stdint.h>

static const char alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character to 6-bit value; 0x80 marks a character outside the alphabet. */
static const uint8_t values[256] = {
#define X 0x80
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

size_t
base64_encode(char *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	char *d = dst;
	size_t groups = n / 3;

	for (size_t i = 0; i < groups; i++, s += 3, d += 4) {
		uint32_t w = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];

		d[0] = alphabet[w >> 18];
		d[1] = alphabet[(w >> 12) & 63];
		d[2] = alphabet[(w >> 6) & 63];
		d[3] = alphabet[w & 63];
	}
	switch (n % 3) {
	case 1:
		d[0] = alphabet[s[0] >> 2];
		d[1] = alphabet[(s[0] & 3) << 4];
		d[2] = '=';
		d[3] = '=';
		d += 4;
		break;
	case 2:
		d[0] = alphabet[s[0] >> 2];
		d[1] = alphabet[((s[0] & 3) << 4) | (s[1] >> 4)];
		d[2] = alphabet[(s[1] & 15) << 2];
		d[3] = '=';
		d += 4;
		break;
	}
	return (size_t)(d - dst);
}

long
base64_decode(void *dst, const char *src, size_t n)
{
	const uint8_t *s = (const uint8_t *)src;
	uint8_t *d = dst;
	size_t groups, pad = 0;
	uint8_t bad = 0;

	if (n % 4)
		return -1;
	if (n == 0)
		return 0;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	/* Every group but the last is full; the last may carry the padding. */
	groups = n / 4 - 1;
	for (size_t i = 0; i < groups; i++, s += 4, d += 3) {
		uint8_t a = values[s[0]], b = values[s[1]], c = values[s[2]], e = values[s[3]];
		uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | e;

		bad |= a | b | c | e;
		d[0] = (uint8_t)(w >> 16);
		d[1] = (uint8_t)(w >> 8);
		d[2] = (uint8_t)w;
	}
	if (bad & 0x80)
		return -1;

	uint8_t a = values[s[0]], b = values[s[1]];
	uint8_t c = pad == 2 ? 0 : values[s[2]];
	uint8_t e = pad >= 1 ? 0 : values[s[3]];
	uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | e;

	if ((a | b | c | e) & 0x80)
		return -1;
	/* Canonical only: the bits below the last encoded byte must be zero. */
	if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
		return -1;
	d[0] = (uint8_t)(w >> 16);
	if (pad < 2)
		d[1] = (uint8_t)(w >> 8);
	if (pad < 1)
		d[2] = (uint8_t)w;
	return (long)((size_t)(d - (uint8_t *)dst) + 3 - pad);
}
