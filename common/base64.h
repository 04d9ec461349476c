/*
 * base64.h - base64 with the standard alphabet and '=' padding (RFC 4648,
 * section 4): the encoder that puts PCM into audio messages, and a strict
 * decoder for tests and tools.
 *
 * The encoder turns each 3 input bytes into 4 characters through table
 * look-ups, with no branch per byte; only the last 1 or 2 bytes take a
 * separate path.  Neither function allocates or writes a terminating NUL.
 */
#ifndef AUR_BASE64_H
#define AUR_BASE64_H

#include <stddef.h>

/* The length of the encoding of n bytes: 4 * ceil(n / 3). */
static inline size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* The most bytes that n characters of base64 decode to: 3 * (n / 4). */
static inline size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

/*
 * Encodes the n bytes at src into dst, which must have room for
 * base64_encoded_len(n) characters.  Returns that length.  No NUL is
 * written.  src and dst must not overlap.
 */
size_t base64_encode(char *dst, const void *src, size_t n);

/*
 * Decodes the n characters at src into dst, which must have room for
 * base64_decoded_max(n) bytes.  Returns the number of bytes decoded, or -1
 * when src is not canonical base64: a length that is not a multiple of 4,
 * a character outside the alphabet (whitespace included), '=' anywhere but
 * in the last two places, or non-zero bits left over before the padding.
 * On -1 the contents of dst are unspecified.
 */
long base64_decode(void *dst, const char *src, size_t n);

#endif
