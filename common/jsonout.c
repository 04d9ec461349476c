#include "jsonout.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/*
 * The escape of a byte below 0x20 or DEL into esc[7]: the short form
 * where JSON has one.  Returns its length.
 */
static size_t
control_escape(unsigned char c, char esc[7])
{
	static const char short_esc[] = "btn\0fr";

	if (c >= '\b' && c <= '\r' && short_esc[c - '\b']) {
		esc[0] = '\\';
		esc[1] = short_esc[c - '\b'];
		return 2;
	}
	snprintf(esc, 7, "\\u%04x", c);
	return 6;
}

size_t
jsonout_string(char *buf, size_t len, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, read = 0;

	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	buf[n++] = '"';
	while (*p) {
		/* The string ends at its NUL, so 4 bytes or up to it may be read. */
		size_t in = utf8_char(p, strnlen((const char *)p, 4)), out;
		const char *text;
		char esc[7];

		if (in == 0) {
			text = "\\ufffd";
			out = 6;
			in = 1;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			text = esc;
			out = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			out = control_escape(*p, esc);
			text = esc;
		} else {
			text = (const char *)p;
			out = in;
		}
		if (in > max - read || out + 2 > len - n)       /* the quote and the NUL */
			break;
		memcpy(buf + n, text, out);
		n += out;
		p += in;
		read += in;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return n;
}

size_t
jsonout_seconds(char *buf, size_t len, double t)
{
	char text[JSONOUT_SECONDS_MAX];
	size_t n;

	/* Music time is at most about 1e7 s; keep the text short whatever comes. */
	if (!isfinite(t))
		t = 0;
	t = fmax(-1e12, fmin(t, 1e12));
	n = (size_t)snprintf(text, sizeof text, "%.6f", t);
	while (n > 1 && text[n - 1] == '0')
		n--;
	if (text[n - 1] == '.')
		n--;
	if (n == 2 && !memcmp(text, "-0", 2)) {        /* -0, or less than -0.0000005 */
		text[0] = '0';
		n = 1;
	}
	if (n >= len) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	return n;
}

size_t
jsonout_answer(char *buf, size_t len, bool has_id, int64_t id, double t,
    const char *message)
{
	char idtext[24], secs[JSONOUT_SECONDS_MAX];
	size_t n;
	int w;

	if (has_id)
		snprintf(idtext, sizeof idtext, "%" PRId64, id);
	else
		strcpy(idtext, "null");
	if (!message) {
		jsonout_seconds(secs, sizeof secs, t);
		w = snprintf(buf, len, "{\"type\":\"ack\",\"id\":%s,\"t\":%s}\n", idtext, secs);
	} else {
		w = snprintf(buf, len, "{\"type\":\"error\",\"id\":%s,\"message\":", idtext);
	}
	/* An error needs room for at least "", }, the newline and the NUL. */
	if (w < 0 || (size_t)w >= len || (message && len - (size_t)w < 5)) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	n = (size_t)w;
	if (!message)
		return n;
	n += jsonout_string(buf + n, len - n - 2, message, JSONOUT_MESSAGE_MAX);
	memcpy(buf + n, "}\n", 3);
	return n + 2;
}
