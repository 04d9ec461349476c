/*
 * test_detail.c - a slot's detail text: the words aur-compose and
 * aur-chunk write, read back by aur-stat field for field; what the reader
 * passes over; what the writer leaves out or cuts.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "detail.h"
#include "shm.h"

static struct detail
playing(const char *preset, const char *key, const char *mode, double bpm, double intensity)
{
	struct detail d;

	detail_clear(&d);
	snprintf(d.preset, sizeof d.preset, "%s", preset);
	snprintf(d.key, sizeof d.key, "%s", key);
	snprintf(d.mode, sizeof d.mode, "%s", mode);
	d.bpm = bpm;
	d.intensity = intensity;
	return d;
}

/* Two numbers agree to the 15 significant digits written, or neither is given. */
static int
near(double a, double b)
{
	return (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-14 * fabs(b);
}

/* Two details say the same: the same names, the same numbers or both not given. */
static int
same(const struct detail *a, const struct detail *b)
{
	return !strcmp(a->preset, b->preset) && !strcmp(a->key, b->key) &&
	    !strcmp(a->mode, b->mode) && !strcmp(a->codec, b->codec) &&
	    near(a->bpm, b->bpm) && near(a->intensity, b->intensity) && near(a->kbps, b->kbps);
}

/* The text the tools write, word for word, and the fields read back from it. */
static void
test_written(void)
{
	static const struct {
		const char *preset, *key, *mode;
		double bpm, intensity;
		const char *want;
	} plays[] = {
		{ "focus", "D", "dorian", 72, 0.45, "preset=focus key=D mode=dorian bpm=72 intensity=0.45" },
		{ "sleep", "C", "aeolian", 50, 0.2, "preset=sleep key=C mode=aeolian bpm=50 intensity=0.2" },
		{ "bright", "F#", "lydian", 40.5, 1, "preset=bright key=F# mode=lydian bpm=40.5 intensity=1" },
		{ "focus", "Bb", "ionian", 120, 0, "preset=focus key=Bb mode=ionian bpm=120 intensity=0" },
		{ "focus", "D", "dorian", 72, 1e-05, "preset=focus key=D mode=dorian bpm=72 intensity=1e-05" },
		/* The longest a composer writes still fits the slot. */
		{ "meditation", "Db", "mixolydian", 120.0 / 1.1, 1.0 / 3,
		  "preset=meditation key=Db mode=mixolydian bpm=109.090909090909 intensity=0.333333333333333" },
	};
	char text[SHM_DETAIL_MAX + 1];
	struct detail d, back;

	for (size_t i = 0; i < sizeof plays / sizeof plays[0]; i++) {
		d = playing(plays[i].preset, plays[i].key, plays[i].mode, plays[i].bpm, plays[i].intensity);
		CHECK(detail_format(text, sizeof text, &d) == strlen(plays[i].want));
		CHECK_STR(text, plays[i].want);
		CHECK(detail_parse(text, &back) == 5);
		CHECK_STR(back.preset, plays[i].preset);
		CHECK(near(back.bpm, plays[i].bpm) && near(back.intensity, plays[i].intensity));
		CHECK(back.codec[0] == '\0' && isnan(back.kbps));
		CHECK(same(&d, &back));
	}

	detail_clear(&d);
	strcpy(d.codec, "opus");
	d.kbps = 96;
	detail_format(text, sizeof text, &d);
	CHECK_STR(text, "codec=opus kbps=96");
	CHECK(detail_parse(text, &back) == 2 && same(&d, &back));
	CHECK(back.preset[0] == '\0' && isnan(back.bpm) && isnan(back.intensity));
	strcpy(d.codec, "pcm");
	d.kbps = NAN;
	detail_format(text, sizeof text, &d);
	CHECK_STR(text, "codec=pcm");
	CHECK(detail_parse(text, &back) == 1 && same(&d, &back));
}

/* What is not a field is passed over, and the rest still read. */
static void
test_passed_over(void)
{
	static const struct {
		const char *text;
		int fields;
		const char *preset;
		double bpm;             /* NAN: not given */
	} cases[] = {
		{ "", 0, "", NAN },
		{ "preset=focus bpm=72", 2, "focus", 72 },
		{ "tempo=fast preset=focus", 1, "focus", NAN },         /* an unknown name */
		{ "preset bpm=72", 1, "", 72 },                         /* no '=' */
		{ "preset= bpm=72", 1, "", 72 },                        /* an empty value */
		{ "preset=abcdefghijklmnopqrstuvwxyz bpm=72", 1, "", 72 },      /* too long */
		{ "preset=focus bpm=7x", 1, "focus", NAN },
		{ "preset=focus bpm=inf", 1, "focus", NAN },
		{ "preset=focus bpm=nan", 1, "focus", NAN },
		{ "preset=focus bpm=", 1, "focus", NAN },
		{ "bpm=72 bpm=60", 2, "", 60 },                         /* the last one holds */
		{ "  preset=focus  ", 1, "focus", NAN },                /* stray spaces */
		{ "presets=focus bp=1", 0, "", NAN },                   /* names are whole words */
	};
	struct detail d;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = detail_parse(cases[i].text, &d);

		if (got != cases[i].fields)
			fprintf(stderr, "case %zu: %d fields, want %d\n", i, got, cases[i].fields);
		CHECK(got == cases[i].fields);
		CHECK_STR(d.preset, cases[i].preset);
		CHECK(isnan(cases[i].bpm) ? isnan(d.bpm) : d.bpm == cases[i].bpm);
		CHECK(d.key[0] == '\0' && isnan(d.intensity) && d.codec[0] == '\0' && isnan(d.kbps));
	}
}

/* The writer leaves out what could not be read back, and cuts at a word. */
static void
test_left_out(void)
{
	char text[SHM_DETAIL_MAX + 1];
	struct detail d = playing("two words", "D", "do=rian", NAN, INFINITY);

	CHECK(detail_format(text, sizeof text, &d) == 5);
	CHECK_STR(text, "key=D");
	d = playing("", "", "", NAN, NAN);
	CHECK(detail_format(text, sizeof text, &d) == 0 && text[0] == '\0');

	d = playing("focus", "D", "dorian", 72, 0.45);
	CHECK(detail_format(text, 24, &d) == 18);
	CHECK_STR(text, "preset=focus key=D");
	CHECK(detail_format(text, 12, &d) == 0 && text[0] == '\0');
	CHECK(detail_format(text, 13, &d) == 12);
	CHECK(detail_format(text, 0, &d) == 0);
}

int
main(void)
{
	test_written();
	test_passed_over();
	test_left_out();
	return check_done("detail");
}
