/*
 * fuzz_control.c - libFuzzer target for control messages (compose/control.c).
 *
 * The input is one message, any bytes, as control_parse() takes it: a
 * buffer and its length, no terminator (libFuzzer's copy is exactly that
 * long, so AddressSanitizer catches a read past it).  Checked:
 *
 *  - a blank answer only for a blank line;
 *  - a rejection has a reason, printable ASCII, that fits its buffer, and
 *    a smaller buffer gets the same reason cut short, never more;
 *  - an accepted message has a known type and every value in range;
 *  - the answer to it, ack or error, is one line of JSON that reads back
 *    with the same id and reason.
 *
 * Any failed check aborts, which libFuzzer reports as a crash.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "jsonout.h"
#include "opusstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_control: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static bool
is_blank(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r')
			return false;
	return true;
}

static void
check_reason(const char *err)
{
	size_t len = strlen(err);

	REQUIRE(len > 0 && len < CONTROL_ERROR_MAX);
	for (size_t i = 0; i < len; i++)
		REQUIRE(err[i] >= 0x20 && err[i] <= 0x7e);
}

static void
check_message(const struct control_msg *m)
{
	switch (m->type) {
	case CONTROL_CHANGE:
		REQUIRE(!(m->given & ~(unsigned)(CONTROL_KEY | CONTROL_MODE | CONTROL_BPM |
		    CONTROL_INTENSITY)));
		if (m->given & CONTROL_KEY)
			REQUIRE(m->key >= 0 && m->key <= 11);
		if (m->given & CONTROL_MODE)
			REQUIRE(m->mode >= 0 && m->mode < MODE_COUNT);
		if (m->given & CONTROL_BPM)
			REQUIRE(m->bpm >= COMPOSE_BPM_MIN && m->bpm <= COMPOSE_BPM_MAX);
		if (m->given & CONTROL_INTENSITY)
			REQUIRE(m->intensity >= 0 && m->intensity <= 1);
		break;
	case CONTROL_PRESET:
		REQUIRE(m->preset >= compose_presets &&
		    m->preset < compose_presets + compose_preset_count);
		REQUIRE(compose_params_valid(&m->preset->params));
		break;
	case CONTROL_STATS:
		REQUIRE(!(m->given & ~((1u << CONTROL_STAT_COUNT) - 1)));
		for (int i = 0; i < CONTROL_STAT_COUNT; i++)
			if (m->given & 1u << i)
				REQUIRE(isfinite(m->stat[i]) && m->stat[i] >= 0 &&
				    (i == CONTROL_STAT_UNDERRUNS || m->stat[i] <= CONTROL_STAT_MS_MAX));
		break;
	case CONTROL_QUALITY:
		REQUIRE(m->kbps >= OPUS_STREAM_KBPS_MIN && m->kbps <= OPUS_STREAM_KBPS_MAX);
		break;
	default:
		REQUIRE(!"an accepted message of no known type");
	}
}

/* The answer line reads back as JSON with the same id and, for an error, reason. */
static void
check_answer(const struct control_msg *m, double t, const char *reason)
{
	char line[JSONOUT_ANSWER_MAX];
	size_t n = jsonout_answer(line, sizeof line, m->has_id, m->id, t, reason);
	json_error_t jerr;
	json_t *v, *id;

	REQUIRE(n == strlen(line) && n > 0 && line[n - 1] == '\n');
	REQUIRE(memchr(line, '\n', n) == line + n - 1);
	if (!(v = json_loads(line, 0, &jerr))) {
		fprintf(stderr, "fuzz_control: the answer is not JSON (%s): %s", jerr.text, line);
		abort();
	}
	REQUIRE(json_is_object(v));
	id = json_object_get(v, "id");
	if (m->has_id)
		REQUIRE(json_is_integer(id) && json_integer_value(id) == m->id);
	else
		REQUIRE(json_is_null(id));
	if (reason) {
		REQUIRE(!strcmp(json_string_value(json_object_get(v, "type")), "error"));
		REQUIRE(!strcmp(json_string_value(json_object_get(v, "message")), reason));
	} else {
		REQUIRE(!strcmp(json_string_value(json_object_get(v, "type")), "ack"));
		REQUIRE(fabs(json_number_value(json_object_get(v, "t")) - t) <= 0.0000005 + t * 1e-15);
	}
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	char err[CONTROL_ERROR_MAX];
	struct control_msg m, again;
	size_t small = size % 24;
	char *cut = malloc(small ? small : 1);
	int rc = control_parse(line, size, &m, err, sizeof err);

	REQUIRE(cut);
	REQUIRE(rc >= -1 && rc <= 1);
	switch (rc) {
	case 0:
		REQUIRE(is_blank(data, size));
		REQUIRE(err[0] == '\0');
		break;
	case -1:
		check_reason(err);
		REQUIRE(m.type == CONTROL_NONE);
		check_answer(&m, 0, err);
		break;
	case 1:
		REQUIRE(err[0] == '\0');
		check_message(&m);
		check_answer(&m, (double)(size % 1000) * 9999.999, NULL);
		break;
	}

	/* A smaller buffer for the reason: the same answer, the reason cut short. */
	REQUIRE(control_parse(line, size, &again, cut, small) == rc);
	REQUIRE(again.has_id == m.has_id && again.id == m.id && again.type == m.type);
	if (rc == -1 && small > 0)
		REQUIRE(strlen(cut) < small && !strncmp(cut, err, small - 1));
	free(cut);
	return 0;
}
