/* kcsi — untrusted strings as text for a terminal (or an HTML page).
 *
 * Every string of an archive is the attacker's: a container name, a comm, a
 * path or a memory excerpt can carry ESC, OSC or CSI sequences that clear the
 * screen, retitle the window or erase lines, and Unicode bidi controls that
 * reorder what is shown.  One rule shows them all, whether or not the output
 * is a terminal:
 *
 *   shown as is  printable ASCII and valid UTF-8 of other characters
 *   \\           a backslash (so every escape reads back unambiguously)
 *   \n \t \r     newline, tab, carriage return
 *   \xNN         the other C0 controls, DEL, and each byte that is not part
 *                of valid UTF-8 (a raw C1 byte such as 0x9b among them)
 *   \uXXXX       C1 controls written in UTF-8 (U+0080-U+009F), bidi controls
 *                (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and
 *                the line and paragraph separators U+2028, U+2029
 *
 * An escaped string is one line: it never holds a raw newline.
 */
#ifndef KCSI_TEXT_H
#define KCSI_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* room for the shown form of one character, with its NUL */
#define KCSI_ESC_MAX 8

enum {
	/* The text is escaped already (a backslash starts an escape, e.g. a
	 * memory excerpt of the report): backslashes are kept as they are,
	 * anything unsafe is still escaped. */
	KCSI_ESC_ESCAPED = 1u << 0,
	/* The text is a JSON document of kcsi_jsonw: its ASCII (controls are
	 * escaped by the writer; newlines are layout) is kept, and the unsafe
	 * characters it leaves raw become \uXXXX, which JSON reads back as the
	 * same string. */
	KCSI_ESC_JSON = 1u << 1,
};

/* The shown form of the character at s (n > 0 bytes left) into out
 * (NUL-terminated, at most KCSI_ESC_MAX - 1 bytes); returns how many bytes of
 * s it took (1 to 4). */
size_t kcsi_escape_char(const void *s, size_t n, unsigned flags, char out[KCSI_ESC_MAX]);

/* The shown form of n bytes, malloc'd and NUL-terminated; NULL when memory
 * is short. */
char *kcsi_escape_text(const void *s, size_t n, unsigned flags);

/* The shown form of n bytes written to f. */
void kcsi_escape_write(FILE *f, const void *s, size_t n, unsigned flags);

#endif
