/*
 * control.c - checking control messages.
 *
 * jansson parses the line (duplicate keys refused); the checks then walk
 * the object in a fixed order, and the first fault found is the reason
 * given: not an object, a bad id, no type, a type that is not a string,
 * then the type's own fields (unknown fields first, then each known field
 * in the order of the protocol's table).  A message with one bad field is
 * rejected whole.  Reasons quote the offending value as it was written,
 * cut to QUOTE_MAX bytes, and are made printable ASCII, so every sink
 * (standard error, the ack log, the shared-memory ring) can carry them.
 */
#include "control.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "opusstream.h"

#define QUOTE_MAX 40                    /* bytes of a bad value quoted back */

/* Where the reason for a rejection goes. */
struct reason {
	char *text;
	size_t len;
};

static void reject(struct reason *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the reason, printable ASCII. */
static void
reject(struct reason *why, const char *fmt, ...)
{
	va_list ap;

	if (!why->len)
		return;
	va_start(ap, fmt);
	vsnprintf(why->text, why->len, fmt, ap);
	va_end(ap);
	for (unsigned char *p = (unsigned char *)why->text; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

/*
 * A real as short as it can be written and still read back the same, so
 * that 1.0000001 is never quoted as a 1 that seems in range.
 */
static void
real_quote(double x, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", x);
	if (strtod(buf, NULL) != x)
		snprintf(buf, len, "%.17g", x);
}

/* A value as it was written, for messages: 300, 1.5, 'fast'. */
static void
json_quote(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		real_quote(json_real_value(v), buf, len);
	else if (json_is_string(v))
		snprintf(buf, len, "'%.*s'", QUOTE_MAX, json_string_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_null(v))
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, json_is_object(v) ? "an object" : "an array");
}

/* Reads a number field in [lo, hi] (hi may be INFINITY). */
static bool
field_number(struct reason *why, const char *name, const json_t *v, double lo, double hi,
    double *out)
{
	char text[64];

	json_quote(v, text, sizeof text);
	if (!json_is_number(v)) {
		reject(why, "%s must be a number, not %s", name, text);
		return false;
	}
	*out = json_number_value(v);
	if (*out >= lo && *out <= hi)
		return true;
	if (hi == INFINITY)
		reject(why, "%s %s is below %g", name, text, lo);
	else
		reject(why, "%s %s is out of %g..%g", name, text, lo, hi);
	return false;
}

static bool
field_string(struct reason *why, const char *name, const json_t *v, const char **out)
{
	char text[64];

	if (!json_is_string(v)) {
		json_quote(v, text, sizeof text);
		reject(why, "%s must be a string, not %s", name, text);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* Reads a name field through parse, which returns -1 for a name it does not know. */
static bool
field_name(struct reason *why, const char *field, const json_t *v, int (*parse)(const char *),
    const char *expected, int *out)
{
	const char *name;

	if (!field_string(why, field, v, &name))
		return false;
	if ((*out = parse(name)) < 0) {
		reject(why, "unknown %s '%.*s' (expected %s)", field, QUOTE_MAX, name, expected);
		return false;
	}
	return true;
}

/* Refuses a field other than type, id and the known ones. */
static bool
fields_known(struct reason *why, json_t *obj, const char *type, const char *const *known)
{
	const char *name;
	json_t *v;

	json_object_foreach(obj, name, v) {
		bool ok = !strcmp(name, "type") || !strcmp(name, "id");

		for (int i = 0; !ok && known[i]; i++)
			ok = !strcmp(name, known[i]);
		if (!ok) {
			reject(why, "unknown field '%.*s' in a %s message", QUOTE_MAX, name, type);
			return false;
		}
	}
	return true;
}

static bool
change_parse(struct reason *why, json_t *obj, struct control_msg *msg)
{
	static const char *const known[] = { "key", "mode", "bpm", "intensity", NULL };
	json_t *v;
	int mode;

	if (!fields_known(why, obj, "control", known))
		return false;
	if ((v = json_object_get(obj, "key"))) {
		if (!field_name(why, "key", v, compose_key_parse, "C, C#, Db, D, ... Bb or B", &msg->key))
			return false;
		msg->given |= CONTROL_KEY;
	}
	if ((v = json_object_get(obj, "mode"))) {
		if (!field_name(why, "mode", v, compose_mode_parse,
		    "ionian, dorian, phrygian, lydian, mixolydian or aeolian", &mode))
			return false;
		msg->mode = (enum compose_mode)mode;
		msg->given |= CONTROL_MODE;
	}
	if ((v = json_object_get(obj, "bpm"))) {
		if (!field_number(why, "bpm", v, COMPOSE_BPM_MIN, COMPOSE_BPM_MAX, &msg->bpm))
			return false;
		msg->given |= CONTROL_BPM;
	}
	if ((v = json_object_get(obj, "intensity"))) {
		if (!field_number(why, "intensity", v, 0, 1, &msg->intensity))
			return false;
		msg->given |= CONTROL_INTENSITY;
	}
	return true;
}

static bool
preset_parse(struct reason *why, json_t *obj, struct control_msg *msg)
{
	static const char *const known[] = { "name", NULL };
	const char *name;
	json_t *v;

	if (!fields_known(why, obj, "preset", known))
		return false;
	if (!(v = json_object_get(obj, "name"))) {
		reject(why, "a preset message needs a name");
		return false;
	}
	if (!field_string(why, "name", v, &name))
		return false;
	if (!(msg->preset = compose_preset_find(name))) {
		char names[COMPOSE_PRESET_NAMES_MAX];

		reject(why, "unknown preset '%.*s' (expected %s)", QUOTE_MAX, name,
		    compose_preset_names(names, sizeof names));
		return false;
	}
	return true;
}

static const char *const stat_names[CONTROL_STAT_COUNT + 1] = {
	[CONTROL_STAT_BUFFER_MS] = "buffer_ms",
	[CONTROL_STAT_UNDERRUNS] = "underruns",
	[CONTROL_STAT_JITTER_MS] = "jitter_ms",
	[CONTROL_STAT_LATENCY_MS] = "latency_ms",
	[CONTROL_STAT_COUNT] = NULL,
};

const char *
control_stat_name(enum control_stat stat)
{
	return stat_names[stat];
}

/*
 * The most a client can report: a millisecond figure past a minute is no
 * measurement.  Underruns have no fixed bound; aur-compose holds them to
 * control_underruns_max of the music it has written.
 */
static const double stat_max[CONTROL_STAT_COUNT] = {
	[CONTROL_STAT_BUFFER_MS] = CONTROL_STAT_MS_MAX,
	[CONTROL_STAT_UNDERRUNS] = INFINITY,
	[CONTROL_STAT_JITTER_MS] = CONTROL_STAT_MS_MAX,
	[CONTROL_STAT_LATENCY_MS] = CONTROL_STAT_MS_MAX,
};

static bool
stats_parse(struct reason *why, json_t *obj, struct control_msg *msg)
{
	json_t *v;

	if (!fields_known(why, obj, "stats", stat_names))
		return false;
	for (int i = 0; i < CONTROL_STAT_COUNT; i++) {
		if (!(v = json_object_get(obj, stat_names[i])))
			continue;
		if (!field_number(why, stat_names[i], v, 0, stat_max[i], &msg->stat[i]))
			return false;
		msg->given |= 1u << i;
	}
	return true;
}

uint64_t
control_underruns_max(int64_t music_us)
{
	if (music_us <= 0)
		return 0;
	return (uint64_t)((music_us + CONTROL_CHUNK_US - 1) / CONTROL_CHUNK_US);
}

static bool
quality_parse(struct reason *why, json_t *obj, struct control_msg *msg)
{
	static const char *const known[] = { "kbps", NULL };
	char text[64];
	json_t *v;

	if (!fields_known(why, obj, "quality", known))
		return false;
	if (!(v = json_object_get(obj, "kbps"))) {
		reject(why, "a quality message needs kbps");
		return false;
	}
	json_quote(v, text, sizeof text);
	if (!json_is_integer(v)) {
		reject(why, "kbps must be an integer, not %s", text);
		return false;
	}
	if (json_integer_value(v) < OPUS_STREAM_KBPS_MIN || json_integer_value(v) > OPUS_STREAM_KBPS_MAX) {
		reject(why, "kbps %s is out of %d..%d", text, OPUS_STREAM_KBPS_MIN, OPUS_STREAM_KBPS_MAX);
		return false;
	}
	msg->kbps = (int)json_integer_value(v);
	return true;
}

/* Checks the value obj as a message; sets msg's id when it is usable. */
static bool
object_parse(struct reason *why, json_t *obj, struct control_msg *msg)
{
	json_t *id = json_object_get(obj, "id"), *type = json_object_get(obj, "type");
	char text[64];
	const char *kind;

	if (!json_is_object(obj)) {
		json_quote(obj, text, sizeof text);
		reject(why, "expected a JSON object, not %s", text);
		return false;
	}
	if (id && !json_is_null(id)) {
		if (!json_is_integer(id)) {
			json_quote(id, text, sizeof text);
			reject(why, "id must be an integer, not %s", text);
			return false;
		}
		if (json_integer_value(id) > CONTROL_ID_MAX || json_integer_value(id) < -CONTROL_ID_MAX) {
			json_quote(id, text, sizeof text);
			reject(why, "id %s is out of -%lld..%lld", text, CONTROL_ID_MAX, CONTROL_ID_MAX);
			return false;
		}
		msg->has_id = true;
		msg->id = json_integer_value(id);
	}
	if (!type) {
		reject(why, "a message needs a type (control, preset, quality or stats)");
		return false;
	}
	if (!field_string(why, "type", type, &kind))
		return false;
	if (!strcmp(kind, "control")) {
		msg->type = CONTROL_CHANGE;
		return change_parse(why, obj, msg);
	}
	if (!strcmp(kind, "preset")) {
		msg->type = CONTROL_PRESET;
		return preset_parse(why, obj, msg);
	}
	if (!strcmp(kind, "stats")) {
		msg->type = CONTROL_STATS;
		return stats_parse(why, obj, msg);
	}
	if (!strcmp(kind, "quality")) {
		msg->type = CONTROL_QUALITY;
		return quality_parse(why, obj, msg);
	}
	reject(why, "unknown type '%.*s' (expected control, preset, quality or stats)", QUOTE_MAX, kind);
	return false;
}

int
control_parse(const char *line, size_t len, struct control_msg *msg, char *err, size_t errlen)
{
	struct reason why = { err, errlen };
	json_error_t jerr;
	json_t *obj;
	size_t blank = 0;
	bool ok;

	memset(msg, 0, sizeof *msg);
	if (errlen)
		err[0] = '\0';
	if (len > CONTROL_LINE_MAX) {
		reject(&why, "line is longer than %d bytes", CONTROL_LINE_MAX);
		return -1;
	}
	while (blank < len && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r'))
		blank++;
	if (blank == len)
		return 0;                       /* a blank line says nothing */
	if (memchr(line, '\0', len)) {
		reject(&why, "NUL byte in the line");
		return -1;
	}
	obj = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		reject(&why, "not JSON: %s (column %d)", jerr.text, jerr.column);
		return -1;
	}
	ok = object_parse(&why, obj, msg);
	json_decref(obj);
	if (!ok) {
		msg->type = CONTROL_NONE;
		return -1;
	}
	return 1;
}
