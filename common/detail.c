#include "detail.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields, in the order they are written. */
static const struct {
	const char *name;
	size_t offset;
	bool number;
} fields[] = {
	{ "preset", offsetof(struct detail, preset), false },
	{ "key", offsetof(struct detail, key), false },
	{ "mode", offsetof(struct detail, mode), false },
	{ "bpm", offsetof(struct detail, bpm), true },
	{ "intensity", offsetof(struct detail, intensity), true },
	{ "codec", offsetof(struct detail, codec), false },
	{ "kbps", offsetof(struct detail, kbps), true },
};

#define NFIELDS (sizeof fields / sizeof fields[0])

/* Field i of d, a name or a number. */
static const char *
name_at(const struct detail *d, size_t i)
{
	return (const char *)d + fields[i].offset;
}

static double
number_at(const struct detail *d, size_t i)
{
	double x;

	memcpy(&x, (const char *)d + fields[i].offset, sizeof x);
	return x;
}

/* Sets field i of d to the name text (of at most DETAIL_NAME_MAX bytes) or the number x. */
static void
field_set(struct detail *d, size_t i, const char *text, double x)
{
	if (fields[i].number)
		memcpy((char *)d + fields[i].offset, &x, sizeof x);
	else
		memcpy((char *)d + fields[i].offset, text, strlen(text) + 1);
}

void
detail_clear(struct detail *d)
{
	for (size_t i = 0; i < NFIELDS; i++)
		field_set(d, i, "", NAN);
}

/* A name's value can be a word: not empty, no space, '=' or control character. */
static bool
name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '=' || *s == 0x7f)
			return false;
	return true;
}

size_t
detail_format(char *buf, size_t len, const struct detail *d)
{
	size_t n = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	for (size_t i = 0; i < NFIELDS; i++) {
		char word[64];
		int w;

		if (fields[i].number && isfinite(number_at(d, i)))
			w = snprintf(word, sizeof word, "%s%s=%.15g", n ? " " : "", fields[i].name,
			    number_at(d, i));
		else if (!fields[i].number && name_ok(name_at(d, i)))
			w = snprintf(word, sizeof word, "%s%s=%.*s", n ? " " : "", fields[i].name,
			    DETAIL_NAME_MAX, name_at(d, i));
		else
			continue;
		if (w < 0 || (size_t)w >= sizeof word || (size_t)w >= len - n)
			break;
		memcpy(buf + n, word, (size_t)w + 1);
		n += (size_t)w;
	}
	return n;
}

/* Reads one word, name=value, of len bytes into *d.  Returns 1 if it was a field. */
static int
word_parse(const char *word, size_t len, struct detail *d)
{
	const char *eq = memchr(word, '=', len);
	const char *value;
	size_t vlen;

	if (!eq)
		return 0;
	value = eq + 1;
	vlen = len - (size_t)(value - word);
	for (size_t i = 0; i < NFIELDS; i++) {
		char text[DETAIL_NAME_MAX + 1], *end;
		double x;

		if (strlen(fields[i].name) != (size_t)(eq - word) ||
		    memcmp(fields[i].name, word, (size_t)(eq - word)) || !vlen || vlen > DETAIL_NAME_MAX)
			continue;
		memcpy(text, value, vlen);
		text[vlen] = '\0';
		if (!fields[i].number) {
			field_set(d, i, text, 0);
			return 1;
		}
		x = strtod(text, &end);
		if (*end || !isfinite(x))
			return 0;
		field_set(d, i, "", x);
		return 1;
	}
	return 0;
}

int
detail_parse(const char *text, struct detail *d)
{
	int found = 0;

	detail_clear(d);
	while (*text) {
		size_t len = strcspn(text, " ");

		found += word_parse(text, len, d);
		text += len;
		if (*text == ' ')
			text++;
	}
	return found;
}
