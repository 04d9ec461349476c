/*
 * jsonout.h - the JSON that Auralis writes by hand (docs/protocol.md): a
 * string, a time in seconds, and the answer to a control message, ack or
 * error.  aur-chunk writes them to the browser and aur-compose writes the
 * answers to its --ack-log, so both write the same bytes for the same
 * answer.
 *
 * JSON is UTF-8: valid UTF-8 goes through as it is, escaped only where
 * JSON needs it, and each byte that is not part of valid UTF-8
 * (common/utf8.h) becomes U+FFFD, so that a line is always valid JSON and
 * valid UTF-8 whatever bytes a message held.  Nothing allocates; every
 * function writes into a caller's buffer, NUL-terminates it and never
 * cuts a character or an escape in two.
 */
#ifndef AUR_JSONOUT_H
#define AUR_JSONOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONOUT_MESSAGE_MAX 255         /* bytes of an error's message that are written */
#define JSONOUT_SECONDS_MAX 24          /* bytes of a time, with its NUL */
/* Bytes of an answer line, with its newline and NUL: 6 a byte of message at most. */
#define JSONOUT_ANSWER_MAX (6 * JSONOUT_MESSAGE_MAX + 64)

/*
 * Writes s as a JSON string, quotes included, into buf[len]: '"' and '\'
 * after a backslash, the control characters and DEL as \b, \t, \n, \f, \r
 * or \u00XX, valid UTF-8 as it is and each other byte as \ufffd.  At most
 * max bytes of s are read, and only whole characters: the text stops
 * before the first that would pass max, or that would leave no room in
 * buf for the closing quote and the NUL.  So with len >= 3 the result is
 * always a complete string; with len >= 6 * max + 3 it holds all of s up
 * to max.  Returns the length written, less than len (0 when len < 3,
 * with buf[0] = '\0' when len is 1 or 2).
 */
size_t jsonout_string(char *buf, size_t len, const char *s, size_t max);

/*
 * Writes a time in seconds as a JSON number into buf[len], with up to six
 * decimals and no trailing zeros: 0, 0.45, 12.345, 1.000001.  A time that
 * is not finite is written as 0, and one past +-1e12 s as that bound, so
 * that JSONOUT_SECONDS_MAX bytes always hold it.  Returns the length, less
 * than len; a buf too small gets nothing but its NUL (0 when len is 0).
 */
size_t jsonout_seconds(char *buf, size_t len, double t);

/*
 * Writes the answer to a control message as one line of JSON, newline
 * included, into buf[len]: an ack {"type":"ack","id":7,"t":12.345} when
 * message is NULL, else an error {"type":"error","id":7,"message":"..."},
 * the message as jsonout_string writes it with max JSONOUT_MESSAGE_MAX.
 * "id" is null when has_id is false.  A buf of JSONOUT_ANSWER_MAX always
 * holds the line; a smaller one that cannot hold the whole message gets a
 * message cut short, the line still complete, when it has room for that.
 * Returns the length, less than len; 0 (buf[0] = '\0' if len > 0) when
 * not even the line without its message fits.
 */
size_t jsonout_answer(char *buf, size_t len, bool has_id, int64_t id, double t,
    const char *message);

#endif
