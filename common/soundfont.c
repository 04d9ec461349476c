/*
 * soundfont.c - the SoundFont search (soundfont.h).
 */
#include "soundfont.h"

#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

static bool
readable(const char *path)
{
	return access(path, R_OK) == 0;
}

const char *
soundfont_search_list(void)
{
	const char *search = getenv("AURALIS_SOUNDFONT_SEARCH");

	return search && *search ? search : SOUNDFONT_SEARCH_DEFAULT;
}

/* The first readable file that the patterns in search name, or NULL. */
static char *
search_first(const char *search)
{
	char *list = strdup(search), *save = NULL, *found = NULL;

	if (!list)
		return NULL;
	for (char *pat = strtok_r(list, ":", &save); pat && !found; pat = strtok_r(NULL, ":", &save)) {
		glob_t g;

		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc && !found; i++)
				if (readable(g.gl_pathv[i]))
					found = strdup(g.gl_pathv[i]);
			globfree(&g);
		}
	}
	free(list);
	return found;
}

static void
report_not_found(const char *search)
{
	char *list = strdup(search), *save = NULL;

	warnf("no SoundFont found; searched, in order");
	if (list)
		for (char *pat = strtok_r(list, ":", &save); pat; pat = strtok_r(NULL, ":", &save))
			fprintf(stderr, "  %s\n", pat);
	fprintf(stderr, "  (and --soundfont and $AURALIS_SOUNDFONT, both unset)\n"
	    "Install one with: apt-get install fluid-soundfont-gm\n"
	    "or name one with --soundfont FILE.\n");
	free(list);
}

static char *
find(const char *given, bool loud)
{
	const char *env = getenv("AURALIS_SOUNDFONT");
	const char *search = soundfont_search_list();
	char *found;

	if (given)
		return readable(given) ? strdup(given) : NULL;
	if (env && *env)
		return readable(env) ? strdup(env) : NULL;
	found = search_first(search);
	if (!found && loud)
		report_not_found(search);
	return found;
}

char *
soundfont_find(const char *given)
{
	return find(given, true);
}

char *
soundfont_find_quiet(const char *given)
{
	return find(given, false);
}
