/*
 * test_control.c - control messages on tables of good and bad lines, with
 * the exact reasons a client is sent, and the answers in the protocol's
 * form.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "control.h"
#include "jsonout.h"

struct bad_case {
	const char *line;
	const char *reason;
	const char *id;         /* the id the answer names: "null" when none was usable */
};

static const struct bad_case bad_cases[] = {
	{ "not json", "not JSON: invalid token near 'not' (column 3)", "null" },
	{ "{\"type\":\"control\"", "not JSON: '}' expected near end of file (column 17)", "null" },
	{ "{\"type\":\"control\",\"type\":\"preset\"}",
	  "not JSON: duplicate object key near '\"type\"' (column 24)", "null" },
	{ "[1,2]", "expected a JSON object, not an array", "null" },
	{ "\"control\"", "expected a JSON object, not 'control'", "null" },
	{ "42", "expected a JSON object, not 42", "null" },
	{ "{\"type\":\"control\",\"id\":1,\"bpm\":300}", "bpm 300 is out of 40..120", "1" },
	{ "{\"type\":\"control\",\"id\":1,\"bpm\":39.5}", "bpm 39.5 is out of 40..120", "1" },
	{ "{\"type\":\"control\",\"id\":2,\"intensity\":1.5}", "intensity 1.5 is out of 0..1", "2" },
	{ "{\"type\":\"control\",\"id\":2,\"intensity\":1.0000001}", "intensity 1.0000001 is out of 0..1", "2" },
	{ "{\"type\":\"control\",\"id\":3,\"key\":\"H\"}",
	  "unknown key 'H' (expected C, C#, Db, D, ... Bb or B)", "3" },
	{ "{\"type\":\"control\",\"id\":3,\"key\":\"C##\"}",
	  "unknown key 'C##' (expected C, C#, Db, D, ... Bb or B)", "3" },
	{ "{\"type\":\"control\",\"id\":3,\"key\":\"\"}",
	  "unknown key '' (expected C, C#, Db, D, ... Bb or B)", "3" },
	{ "{\"type\":\"control\",\"id\":4,\"mode\":\"locrian\"}",
	  "unknown mode 'locrian' (expected ionian, dorian, phrygian, lydian, mixolydian or aeolian)",
	  "4" },
	{ "{\"type\":\"control\",\"id\":4,\"mode\":7}", "mode must be a string, not 7", "4" },
	{ "{\"type\":\"control\",\"id\":5,\"tempo\":80}", "unknown field 'tempo' in a control message",
	  "5" },
	{ "{\"type\":\"control\",\"id\":6,\"bpm\":\"fast\"}", "bpm must be a number, not 'fast'", "6" },
	{ "{\"type\":\"control\",\"id\":6,\"bpm\":null}", "bpm must be a number, not null", "6" },
	{ "{\"type\":\"control\",\"id\":6,\"bpm\":[60]}", "bpm must be a number, not an array", "6" },
	{ "{\"type\":\"control\",\"id\":6,\"bpm\":true}", "bpm must be a number, not true", "6" },
	{ "{\"type\":\"preset\",\"id\":7,\"name\":\"loud\"}",
	  "unknown preset 'loud' (expected focus, meditation, sleep or bright)", "7" },
	{ "{\"type\":\"preset\",\"id\":8}", "a preset message needs a name", "8" },
	{ "{\"type\":\"preset\",\"id\":8,\"name\":{}}", "name must be a string, not an object", "8" },
	{ "{\"type\":\"preset\",\"id\":8,\"name\":\"sleep\",\"key\":\"C\"}",
	  "unknown field 'key' in a preset message", "8" },
	{ "{\"type\":\"dance\",\"id\":9}", "unknown type 'dance' (expected control, preset, quality or stats)",
	  "9" },
	{ "{\"type\":false,\"id\":9}", "type must be a string, not false", "9" },
	{ "{\"id\":10}", "a message needs a type (control, preset, quality or stats)", "10" },
	{ "{\"type\":\"control\",\"id\":\"x\"}", "id must be an integer, not 'x'", "null" },
	{ "{\"type\":\"control\",\"id\":1.5}", "id must be an integer, not 1.5", "null" },
	{ "{\"type\":\"control\",\"id\":9007199254740992}",
	  "id 9007199254740992 is out of -9007199254740991..9007199254740991", "null" },
	{ "{\"type\":\"control\",\"id\":-9223372036854775808}",
	  "id -9223372036854775808 is out of -9007199254740991..9007199254740991", "null" },
	{ "{\"type\":\"stats\",\"id\":11,\"buffer_ms\":-5}", "buffer_ms -5 is out of 0..60000", "11" },
	{ "{\"type\":\"stats\",\"latency_ms\":-0.25}", "latency_ms -0.25 is out of 0..60000", "null" },
	{ "{\"type\":\"stats\",\"jitter_ms\":-1e-300}", "jitter_ms -1e-300 is out of 0..60000", "null" },
	/* No millisecond figure past a minute: a client that says so is not measuring. */
	{ "{\"type\":\"stats\",\"id\":11,\"buffer_ms\":1e14}", "buffer_ms 100000000000000 is out of 0..60000", "11" },
	{ "{\"type\":\"stats\",\"buffer_ms\":60000.001}", "buffer_ms 60000.001 is out of 0..60000",
	  "null" },
	{ "{\"type\":\"stats\",\"jitter_ms\":86400000}", "jitter_ms 86400000 is out of 0..60000",
	  "null" },
	{ "{\"type\":\"stats\",\"underruns\":0,\"latency_ms\":1e300}",
	  "latency_ms 1e+300 is out of 0..60000", "null" },
	{ "{\"type\":\"stats\",\"underruns\":-1}", "underruns -1 is below 0", "null" },
	{ "{\"type\":\"control\",\"bpm\":120.00000000000001}", "bpm 120.00000000000001 is out of 40..120",
	  "null" },
	{ "{\"type\":\"stats\",\"rtt_ms\":3}", "unknown field 'rtt_ms' in a stats message", "null" },
	{ "{\"type\":\"quality\",\"id\":12}", "a quality message needs kbps", "12" },
	{ "{\"type\":\"quality\",\"id\":12,\"kbps\":5}", "kbps 5 is out of 6..510", "12" },
	{ "{\"type\":\"quality\",\"id\":12,\"kbps\":511}", "kbps 511 is out of 6..510", "12" },
	{ "{\"type\":\"quality\",\"id\":12,\"kbps\":64.5}", "kbps must be an integer, not 64.5", "12" },
	{ "{\"type\":\"quality\",\"id\":12,\"kbps\":\"64\"}", "kbps must be an integer, not '64'", "12" },
	{ "{\"type\":\"quality\",\"kbps\":64,\"codec\":\"opus\"}",
	  "unknown field 'codec' in a quality message", "null" },
	/* Quoted values are cut short and kept printable. */
	{ "{\"type\":\"control\",\"key\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\"}",
	  "unknown key 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn' (expected C, C#, Db, D, ... Bb or B)",
	  "null" },
	{ "{\"type\":\"control\",\"mode\":\"d\\u00f6rian\\ttab\"}",
	  "unknown mode 'd??rian?tab' (expected ionian, dorian, phrygian, lydian, mixolydian or aeolian)",
	  "null" },
	{ "{\"type\":\"control\",\"mode\":\"a\\u0000b\"}",
	  "not JSON: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"' (column 35)",
	  "null" },
};

static void
test_bad_lines(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		struct control_msg m;
		char err[CONTROL_ERROR_MAX], id[32];
		int rc = control_parse(c->line, strlen(c->line), &m, err, sizeof err);

		if (rc != -1)
			fprintf(stderr, "case %s: rc %d, want -1\n", c->line, rc);
		CHECK(rc == -1);
		CHECK_STR(err, c->reason);
		if (m.has_id)
			snprintf(id, sizeof id, "%lld", (long long)m.id);
		else
			strcpy(id, "null");
		CHECK_STR(id, c->id);
		CHECK(m.type == CONTROL_NONE);
	}
}

static void
test_framing(void)
{
	static char big[CONTROL_LINE_MAX + 2];
	struct control_msg m;
	char err[CONTROL_ERROR_MAX];
	/* The NUL byte and what follows it are part of the line. */
	static const char nul[] = "{\"type\":\"control\",\0\"id\":14}";

	CHECK(control_parse("", 0, &m, err, sizeof err) == 0);
	CHECK(control_parse(" \t\r ", 4, &m, err, sizeof err) == 0);
	CHECK_STR(err, "");
	CHECK(control_parse(nul, sizeof nul - 1, &m, err, sizeof err) == -1);
	CHECK_STR(err, "NUL byte in the line");
	CHECK(!m.has_id);
	/* Only len bytes count: no NUL terminator needed, nothing read past it. */
	CHECK(control_parse("{\"type\":\"stats\"}garbage", 16, &m, err, sizeof err) == 1);
	memset(big, ' ', sizeof big);
	CHECK(control_parse(big, CONTROL_LINE_MAX, &m, err, sizeof err) == 0);
	CHECK(control_parse(big, CONTROL_LINE_MAX + 1, &m, err, sizeof err) == -1);
	CHECK_STR(err, "line is longer than 65536 bytes");
	/* A small err buffer gets a cut reason; none at all is fine too. */
	CHECK(control_parse("{\"id\":3}", 8, &m, err, 8) == -1);
	CHECK_STR(err, "a messa");
	CHECK(control_parse("{\"id\":3}", 8, &m, NULL, 0) == -1);
	CHECK(m.has_id && m.id == 3);
}

static int
parse_good(const char *line, struct control_msg *m)
{
	char err[CONTROL_ERROR_MAX] = "";
	int rc = control_parse(line, strlen(line), m, err, sizeof err);

	if (rc != 1)
		fprintf(stderr, "case %s: rc %d (%s)\n", line, rc, err);
	return rc;
}

static void
test_good_lines(void)
{
	struct control_msg m;

	CHECK(parse_good("{\"type\":\"control\",\"id\":7,\"key\":\"D\",\"mode\":\"dorian\","
	    "\"bpm\":72,\"intensity\":0.4}", &m) == 1);
	CHECK(m.type == CONTROL_CHANGE && m.has_id && m.id == 7);
	CHECK(m.given == (CONTROL_KEY | CONTROL_MODE | CONTROL_BPM | CONTROL_INTENSITY));
	CHECK(m.key == 2 && m.mode == MODE_DORIAN && m.bpm == 72 && m.intensity == 0.4);

	CHECK(parse_good(" {\"mode\":\"Minor\",\"type\":\"control\",\"key\":\"bb\"}\r", &m) == 1);
	CHECK(m.type == CONTROL_CHANGE && !m.has_id);
	CHECK(m.given == (CONTROL_KEY | CONTROL_MODE));
	CHECK(m.key == 10 && m.mode == MODE_AEOLIAN);

	CHECK(parse_good("{\"type\":\"control\",\"id\":null,\"bpm\":40,\"intensity\":1}", &m) == 1);
	CHECK(!m.has_id && m.given == (CONTROL_BPM | CONTROL_INTENSITY));
	CHECK(m.bpm == 40 && m.intensity == 1);

	/* The extremes a browser can hold exactly are ids; past them, no. */
	CHECK(parse_good("{\"type\":\"control\",\"id\":-9007199254740991}", &m) == 1);
	CHECK(m.has_id && m.id == -CONTROL_ID_MAX && m.given == 0);
	CHECK(parse_good("{\"type\":\"control\",\"id\":9007199254740991}", &m) == 1);
	CHECK(m.has_id && m.id == CONTROL_ID_MAX);

	CHECK(parse_good("{\"type\":\"preset\",\"id\":8,\"name\":\"SLEEP\"}", &m) == 1);
	CHECK(m.type == CONTROL_PRESET && m.id == 8);
	CHECK(m.preset && !strcmp(m.preset->name, "sleep"));

	CHECK(parse_good("{\"type\":\"stats\",\"buffer_ms\":180,\"underruns\":0,\"jitter_ms\":3.5,"
	    "\"latency_ms\":60000}", &m) == 1);
	CHECK(m.type == CONTROL_STATS && !m.has_id && m.given == 0xf);
	CHECK(m.stat[CONTROL_STAT_BUFFER_MS] == 180 && m.stat[CONTROL_STAT_UNDERRUNS] == 0);
	CHECK(m.stat[CONTROL_STAT_JITTER_MS] == 3.5 && m.stat[CONTROL_STAT_LATENCY_MS] == 60000);
	CHECK(parse_good("{\"type\":\"stats\",\"buffer_ms\":60000,\"jitter_ms\":0}", &m) == 1);
	CHECK(m.stat[CONTROL_STAT_BUFFER_MS] == CONTROL_STAT_MS_MAX);
	/* Underruns have no fixed bound: aur-compose holds them to the music so far. */
	CHECK(parse_good("{\"type\":\"stats\",\"underruns\":1e14}", &m) == 1);
	CHECK(m.stat[CONTROL_STAT_UNDERRUNS] == 1e14);

	CHECK(parse_good("{\"type\":\"stats\",\"underruns\":3}", &m) == 1);
	CHECK(m.given == 1u << CONTROL_STAT_UNDERRUNS && m.stat[CONTROL_STAT_UNDERRUNS] == 3);

	CHECK(parse_good("{\"type\":\"quality\",\"id\":9,\"kbps\":48}", &m) == 1);
	CHECK(m.type == CONTROL_QUALITY && m.has_id && m.id == 9 && m.kbps == 48);
	CHECK(parse_good("{\"type\":\"quality\",\"kbps\":6}", &m) == 1 && m.kbps == 6 && !m.has_id);
	CHECK(parse_good("{\"type\":\"quality\",\"kbps\":510}", &m) == 1 && m.kbps == 510);
	CHECK_STR(control_stat_name(CONTROL_STAT_LATENCY_MS), "latency_ms");
}

/* An answer is one line of JSON whose message reads back as it was given. */
static void
check_answer_json(const char *line, const char *message)
{
	json_error_t jerr;
	json_t *v = json_loads(line, 0, &jerr);

	CHECK(v != NULL);
	CHECK(line[strlen(line) - 1] == '\n');
	if (v && message)
		CHECK_STR(json_string_value(json_object_get(v, "message")), message);
	json_decref(v);
}

/*
 * The answers are jsonout_answer's (tests/unit/test_jsonout.c); here, that
 * a reason control_parse gives, however long, goes into one whole.
 */
static void
test_answers(void)
{
	static const char bad[] = "{\"type\":\"control\",\"id\":4,\"mode\":\"loc\\\"rian\"}";
	char line[JSONOUT_ANSWER_MAX], err[CONTROL_ERROR_MAX], worst[CONTROL_ERROR_MAX];
	struct control_msg m;

	CHECK(control_parse(bad, strlen(bad), &m, err, sizeof err) == -1);
	CHECK(jsonout_answer(line, sizeof line, m.has_id, m.id, 0, err) == strlen(line));
	CHECK_STR(line, "{\"type\":\"error\",\"id\":4,\"message\":\"unknown mode 'loc\\\"rian' (expected "
	    "ionian, dorian, phrygian, lydian, mixolydian or aeolian)\"}\n");
	check_answer_json(line, err);

	/* The longest reason, all quotes, and the widest id. */
	CHECK(CONTROL_ERROR_MAX - 1 <= JSONOUT_MESSAGE_MAX);
	memset(worst, '"', sizeof worst - 1);
	worst[sizeof worst - 1] = '\0';
	jsonout_answer(line, sizeof line, true, INT64_MIN, 0, worst);
	check_answer_json(line, worst);
}

/* One underrun a chunk begun, at most: music time in, a count out. */
static void
test_underruns_max(void)
{
	static const struct { int64_t music_us; uint64_t most; } table[] = {
		{ -1, 0 },
		{ 0, 0 },               /* nothing written: nothing played, nothing ran dry */
		{ 1, 1 },
		{ 100000, 1 },
		{ 100001, 2 },
		{ 300000, 3 },          /* the start of a live stream, written at once */
		{ 60000000, 600 },      /* a minute */
		{ 604800000000, 6048000 }, /* a week */
	};

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		uint64_t got = control_underruns_max(table[i].music_us);

		if (got != table[i].most)
			fprintf(stderr, "music_us %lld: %llu, want %llu\n", (long long)table[i].music_us,
			    (unsigned long long)got, (unsigned long long)table[i].most);
		CHECK(got == table[i].most);
	}
}

int
main(void)
{
	test_bad_lines();
	test_framing();
	test_good_lines();
	test_answers();
	test_underruns_max();
	return check_done("control");
}
