/*
 * test_jsonout.c - the JSON Auralis writes by hand: strings (escapes,
 * UTF-8 kept, bad bytes replaced, cut at a whole character), times, and
 * the answers to control messages.  Each string and answer is also read
 * back with jansson, which refuses invalid UTF-8.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "jsonout.h"

#define FFFD "\xef\xbf\xbd"

static const struct {
	const char *in;
	const char *want;       /* what jsonout_string writes */
	const char *text;       /* what it reads back as */
} strings[] = {
	{ "", "\"\"", "" },
	{ "plain words", "\"plain words\"", "plain words" },
	{ "say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\"", "say \"hi\" \\ bye" },
	{ "\b\t\n\f\r", "\"\\b\\t\\n\\f\\r\"", "\b\t\n\f\r" },
	{ "\x01\x0b\x1f\x7f", "\"\\u0001\\u000b\\u001f\\u007f\"", "\x01\x0b\x1f\x7f" },
	/* Valid UTF-8 of each length goes through as it is. */
	{ "caf\xc3\xa9", "\"caf\xc3\xa9\"", "caf\xc3\xa9" },
	{ "\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"", "\xe2\x82\xac 5" },
	{ "\xf0\x9f\x8e\xb9", "\"\xf0\x9f\x8e\xb9\"", "\xf0\x9f\x8e\xb9" },
	{ FFFD, "\"" FFFD "\"", FFFD },
	/* Each byte that is not part of valid UTF-8 is one U+FFFD. */
	{ "a\x80z", "\"a\\ufffdz\"", "a" FFFD "z" },
	{ "\xc3(", "\"\\ufffd(\"", FFFD "(" },
	{ "\xc0\x80", "\"\\ufffd\\ufffd\"", FFFD FFFD },                 /* overlong NUL */
	{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", FFFD FFFD FFFD }, /* a surrogate */
	{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", FFFD FFFD FFFD FFFD },
	{ "\xff", "\"\\ufffd\"", FFFD },
	{ "end\xe2\x82", "\"end\\ufffd\\ufffd\"", "end" FFFD FFFD },    /* cut short */
};

/* line holds one JSON value, a string equal to text. */
static void
check_reads_back(const char *line, const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(line, JSON_DECODE_ANY, &jerr);

	CHECK(v != NULL && json_is_string(v));
	if (!v) {
		fprintf(stderr, "not JSON (%s): %s\n", jerr.text, line);
		return;
	}
	CHECK(json_string_length(v) == strlen(text));
	CHECK_STR(json_string_value(v), text);
	json_decref(v);
}

static void
test_strings(void)
{
	char buf[128];

	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		size_t n = jsonout_string(buf, sizeof buf, strings[i].in, 100);

		CHECK_STR(buf, strings[i].want);
		CHECK(n == strlen(buf));
		check_reads_back(buf, strings[i].text);
	}
}

/* max and the buffer cut before a character that would not fit, never inside it. */
static void
test_string_cuts(void)
{
	static const char s[] = "ab\xc3\xa9\"x";
	static const struct {
		size_t len, max;
		const char *want;
	} cuts[] = {
		{ 64, 2, "\"ab\"" },
		{ 64, 3, "\"ab\"" },                     /* not half of the e-acute */
		{ 64, 4, "\"ab\xc3\xa9\"" },
		{ 64, 5, "\"ab\xc3\xa9\\\"\"" },
		{ 64, SIZE_MAX, "\"ab\xc3\xa9\\\"x\"" },
		{ 6, SIZE_MAX, "\"ab\"" },               /* the quote and the NUL keep room */
		{ 7, SIZE_MAX, "\"ab\xc3\xa9\"" },
		{ 8, SIZE_MAX, "\"ab\xc3\xa9\"" },       /* not half of the escape */
		{ 9, SIZE_MAX, "\"ab\xc3\xa9\\\"\"" },
		{ 10, SIZE_MAX, "\"ab\xc3\xa9\\\"x\"" },
		{ 3, SIZE_MAX, "\"\"" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		size_t n = jsonout_string(buf, cuts[i].len, s, cuts[i].max);

		CHECK_STR(buf, cuts[i].want);
		CHECK(n == strlen(buf) && n < cuts[i].len);
	}
	/* An invalid byte counts one, its U+FFFD escape six. */
	jsonout_string(buf, sizeof buf, "\x80\x80\x80", 2);
	CHECK_STR(buf, "\"\\ufffd\\ufffd\"");
	jsonout_string(buf, 14, "\x80\x80\x80", SIZE_MAX);
	CHECK_STR(buf, "\"\\ufffd\"");
	/* Too small for a string: nothing, but the NUL. */
	buf[0] = 'x';
	CHECK(jsonout_string(buf, 2, "a", 10) == 0 && buf[0] == '\0');
	CHECK(jsonout_string(buf, 0, "a", 10) == 0);
}

static void
test_seconds(void)
{
	static const struct {
		double t;
		const char *want;
	} times[] = {
		{ 0, "0" },
		{ -0.0, "0" },
		{ 0.45, "0.45" },
		{ 12.345, "12.345" },
		{ 3, "3" },
		{ 1.000001, "1.000001" },
		{ 1.0000004, "1" },
		{ 7200.1, "7200.1" },
		{ -2.5, "-2.5" },
		{ -1e-9, "0" },
		{ 1e300, "1000000000000" },
		{ -1e300, "-1000000000000" },
		{ NAN, "0" },
		{ INFINITY, "0" },
	};
	char buf[JSONOUT_SECONDS_MAX];

	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		size_t n = jsonout_seconds(buf, sizeof buf, times[i].t);

		CHECK_STR(buf, times[i].want);
		CHECK(n == strlen(buf));
	}
	/* The longest fits its bound; a buffer too small gets nothing. */
	CHECK(jsonout_seconds(buf, sizeof buf, -999999999999.123456) == 20);
	CHECK(jsonout_seconds(buf, 5, 12.345) == 0 && buf[0] == '\0');
	CHECK(jsonout_seconds(buf, 7, 12.345) == 6);
}

/* line is one answer line; it reads back with this type, id and message. */
static void
check_answer(const char *line, const char *type, bool has_id, int64_t id, const char *message)
{
	json_error_t jerr;
	json_t *v = json_loads(line, 0, &jerr), *jid;
	size_t n = strlen(line);

	CHECK(n > 0 && line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1);
	CHECK(v != NULL);
	if (!v) {
		fprintf(stderr, "not JSON (%s): %s\n", jerr.text, line);
		return;
	}
	CHECK_STR(json_string_value(json_object_get(v, "type")), type);
	jid = json_object_get(v, "id");
	CHECK(has_id ? json_is_integer(jid) && json_integer_value(jid) == id : json_is_null(jid));
	if (message)
		CHECK_STR(json_string_value(json_object_get(v, "message")), message);
	json_decref(v);
}

static void
test_answers(void)
{
	char line[JSONOUT_ANSWER_MAX], worst[JSONOUT_MESSAGE_MAX + 10], want[JSONOUT_MESSAGE_MAX + 1];
	size_t n;

	n = jsonout_answer(line, sizeof line, true, 7, 12.345, NULL);
	CHECK_STR(line, "{\"type\":\"ack\",\"id\":7,\"t\":12.345}\n");
	CHECK(n == strlen(line));
	jsonout_answer(line, sizeof line, false, 0, 0.45, NULL);
	CHECK_STR(line, "{\"type\":\"ack\",\"id\":null,\"t\":0.45}\n");
	n = jsonout_answer(line, sizeof line, false, 0, 0, "bpm \"x\" is out of 40..120\\");
	CHECK_STR(line, "{\"type\":\"error\",\"id\":null,\"message\":\"bpm \\\"x\\\" is out of 40..120\\\\\"}\n");
	CHECK(n == strlen(line));
	check_answer(line, "error", false, 0, "bpm \"x\" is out of 40..120\\");
	/* UTF-8 kept, control characters escaped, a bad byte replaced. */
	jsonout_answer(line, sizeof line, true, -3, 0, "tab\there \xc3\xa9 \xff!");
	CHECK_STR(line, "{\"type\":\"error\",\"id\":-3,\"message\":\"tab\\there \xc3\xa9 \\ufffd!\"}\n");
	check_answer(line, "error", true, -3, "tab\there \xc3\xa9 " FFFD "!");

	/* The longest message, every byte escaped six wide, and the widest id still fit. */
	memset(worst, '\x01', sizeof worst - 1);
	worst[sizeof worst - 1] = '\0';
	memcpy(want, worst, JSONOUT_MESSAGE_MAX);
	want[JSONOUT_MESSAGE_MAX] = '\0';
	n = jsonout_answer(line, sizeof line, true, INT64_MIN, 0, worst);
	CHECK(n == strlen(line) && n == 21 + 20 + 11 + 6 * JSONOUT_MESSAGE_MAX + 2 + 2);
	check_answer(line, "error", true, INT64_MIN, want);
	memset(worst, 0xff, sizeof worst - 1);
	n = jsonout_answer(line, sizeof line, true, INT64_MIN, 0, worst);
	CHECK(n == strlen(line) && n < sizeof line);
	n = jsonout_answer(line, sizeof line, true, INT64_MIN, -1e300, NULL);
	CHECK(n == strlen(line));
	check_answer(line, "ack", true, INT64_MIN, NULL);

	/* A buffer too small cuts the message short and keeps the line whole. */
	n = jsonout_answer(line, 44, true, 1, 0, "a reason");
	CHECK_STR(line, "{\"type\":\"error\",\"id\":1,\"message\":\"a reas\"}\n");
	CHECK(n == 43);
	n = jsonout_answer(line, 38, true, 1, 0, "a reason");
	CHECK_STR(line, "{\"type\":\"error\",\"id\":1,\"message\":\"\"}\n");
	CHECK(n == 37);
	/* ... or writes nothing when not even that fits. */
	CHECK(jsonout_answer(line, 37, true, 1, 0, "a reason") == 0 && line[0] == '\0');
	CHECK(jsonout_answer(line, 20, true, 1, 0, NULL) == 0 && line[0] == '\0');
}

int
main(void)
{
	test_strings();
	test_string_cuts();
	test_seconds();
	test_answers();
	return check_done("jsonout");
}
