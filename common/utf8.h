/*
 * utf8.h - what is valid UTF-8, for text that goes into JSON: the messages
 * aur-chunk sends to the browser and the strings aur-stat serves.
 */
#ifndef AUR_UTF8_H
#define AUR_UTF8_H

#include <stddef.h>

/*
 * The length (1..4) of the valid UTF-8 character at s, of which n >= 1
 * bytes may be read, or 0 when none starts there: a stray continuation
 * byte, a sequence cut short, an overlong form, a surrogate
 * (U+D800..U+DFFF) or a code point past U+10FFFF (RFC 3629).
 */
size_t utf8_char(const unsigned char *s, size_t n);

#endif
