/*
 * soundfont.h - where the SoundFont comes from (soundfonts/README.md): the
 * search that aur-render makes, shared with aur-stat, which reports the
 * SoundFont that the sessions use.
 *
 * In order: the file given (--soundfont), else $AURALIS_SOUNDFONT if set
 * and not empty, else the first readable file named by the colon-separated
 * list of files and globs in $AURALIS_SOUNDFONT_SEARCH, or by
 * SOUNDFONT_SEARCH_DEFAULT when that is unset or empty.
 */
#ifndef AUR_SOUNDFONT_H
#define AUR_SOUNDFONT_H

#include "config.h"

#define SOUNDFONT_SEARCH_DEFAULT \
	AURALIS_SOURCE_ROOT "/soundfonts/*.sf2:" \
	"/usr/share/sounds/sf2/FluidR3_GM.sf2:" \
	"/usr/share/sounds/sf2/default-GM.sf2"

/*
 * Finds the SoundFont.  Returns a malloc'd path for the caller to free, or
 * NULL.  When the file given or $AURALIS_SOUNDFONT is not readable it
 * returns NULL at once, with errno from access(2) and nothing printed, so
 * that the caller can name the file; when the search finds nothing it
 * lists every place searched on stderr, with what to do.
 */
char *soundfont_find(const char *given);

/* As soundfont_find, but prints nothing in any case. */
char *soundfont_find_quiet(const char *given);

/* The search list used after the file given and $AURALIS_SOUNDFONT. */
const char *soundfont_search_list(void);

#endif
