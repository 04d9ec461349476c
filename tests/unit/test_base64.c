/*
 * test_base64.c - the RFC 4648 test vectors, strict decoding, random round
 * trips, and the encoder's throughput (printed, not checked).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "check.h"
#include "clock.h"
#include "rng.h"

static const struct {
	const char *raw, *encoded;
} vectors[] = {
	/* RFC 4648, section 10. */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	/* Both ends of the alphabet. */
	{ "\xfb\xff\xbf", "+/+/" },
	{ "\x00\x00\x00", "AAAA" },
};

/* Not canonical base64: each must be rejected. */
static const char *const invalid[] = {
	"Z", "Zg", "Zg=", "Zg===", "====", "Z===", "Zm9v\n", " Zm9", "Zm9-",
	"Zm=v", "Zg==Zm9v", "Zh==", "Zm9=", "Zm8=Zm8=", "Zm\xc3\xa9",
};

static void
check_vectors(void)
{
	char enc[64];
	uint8_t dec[64];

	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		size_t rawlen = i == 8 ? 3 : strlen(vectors[i].raw);
		size_t n = base64_encode(enc, vectors[i].raw, rawlen);

		enc[n] = '\0';
		CHECK(n == base64_encoded_len(rawlen));
		CHECK_STR(enc, vectors[i].encoded);
		CHECK(base64_decode(dec, vectors[i].encoded, n) == (long)rawlen);
		CHECK(memcmp(dec, vectors[i].raw, rawlen) == 0);
	}
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		long r = base64_decode(dec, invalid[i], strlen(invalid[i]));

		if (r != -1)
			fprintf(stderr, "accepted \"%s\"\n", invalid[i]);
		CHECK(r == -1);
	}
}

static void
check_round_trips(void)
{
	struct rng rng;
	uint8_t raw[1000], back[1000];
	char enc[1400];

	rng_seed(&rng, 4648);
	for (int trial = 0; trial < 3000; trial++) {
		size_t n = rng_below(&rng, sizeof raw + 1);
		size_t m;

		for (size_t i = 0; i < n; i++)
			raw[i] = (uint8_t)rng_next(&rng);
		m = base64_encode(enc, raw, n);
		CHECK(m == base64_encoded_len(n));
		CHECK(base64_decode(back, enc, m) == (long)n);
		CHECK(memcmp(raw, back, n) == 0);
		/* Every character is in the alphabet or is trailing padding. */
		for (size_t i = 0; i < m; i++) {
			char c = enc[i];
			int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				(c >= '0' && c <= '9') || c == '+' || c == '/' ||
				(c == '=' && i >= m - 2);
			if (!ok) {
				CHECK(ok);
				break;
			}
		}
	}
}

/* One audio chunk's worth, many times: the encoder's speed in MB/s. */
static void
report_throughput(void)
{
	enum { CHUNK = 17640, ROUNDS = 4000 };
	static uint8_t pcm[CHUNK];
	static char out[(CHUNK + 2) / 3 * 4];
	struct rng rng;
	int64_t t0, t1;
	size_t sum = 0;

	rng_seed(&rng, 1);
	for (size_t i = 0; i < CHUNK; i++)
		pcm[i] = (uint8_t)rng_next(&rng);
	t0 = clock_now_ns();
	for (int r = 0; r < ROUNDS; r++) {
		pcm[r % CHUNK]++;
		sum += base64_encode(out, pcm, CHUNK);
		sum += (unsigned char)out[r % sizeof out];
	}
	t1 = clock_now_ns();
	printf("base64: encoded %d chunks of %d bytes at %.0f MB/s (%zu)\n", ROUNDS, CHUNK,
		(double)CHUNK * ROUNDS / 1e6 / ((double)(t1 - t0) / 1e9), sum % 10);
}

int
main(void)
{
	check_vectors();
	check_round_trips();
	report_throughput();
	return check_done("base64");
}
