/*
 * detail.h - what a slot's detail text says (shm_set_detail, common/shm.h):
 * what a composer plays and how a framer codes, as words "name=value"
 * apart by single spaces:
 *
 *	preset=focus key=D mode=dorian bpm=72 intensity=0.45     (aur-compose)
 *	codec=opus kbps=96                                       (aur-chunk)
 *
 * The tools write it with detail_format and aur-stat reads it back with
 * detail_parse, so that the words and their forms are set down once.  A
 * field is either given or not: "" for a name, NAN for a number.
 */
#ifndef AUR_DETAIL_H
#define AUR_DETAIL_H

#include <stddef.h>

#define DETAIL_NAME_MAX 23              /* bytes of a name's value, without the NUL */

struct detail {
	char preset[DETAIL_NAME_MAX + 1];       /* the last preset applied */
	char key[DETAIL_NAME_MAX + 1];          /* "D", "F#" */
	char mode[DETAIL_NAME_MAX + 1];         /* "dorian" */
	double bpm;
	double intensity;                       /* 0..1 */
	char codec[DETAIL_NAME_MAX + 1];        /* "pcm" or "opus" */
	double kbps;                            /* the Opus bitrate */
};

/* Sets every field of *d to not given. */
void detail_clear(struct detail *d);

/*
 * Writes the given fields of *d into buf[len] as detail text, in the
 * order of struct detail: names as they are, numbers as "%.15g" writes
 * them (72, 0.45).  A name must hold no space, '=' or control character;
 * one that does is left out, and so is a number that is not finite.
 * Returns the length, less than len; text that does not fit is cut after
 * its last whole word (SHM_DETAIL_MAX + 1 bytes hold either tool's).
 */
size_t detail_format(char *buf, size_t len, const struct detail *d);

/*
 * Reads detail text into *d: every field it does not give is not given.
 * A word of an unknown name, without '=', with a name's value longer
 * than DETAIL_NAME_MAX or with a number that strtod does not read whole
 * as a finite number is passed over.  Returns the number of fields read.
 */
int detail_parse(const char *text, struct detail *d);

#endif
