/* cmn_suggest: "did you mean" for a misspelled name.
 *
 * An edit distance (optimal string alignment: insert, delete, substitute,
 * or swap two neighbours, each 1; letters compared case-insensitively, '-'
 * and '_' alike, so a flag and its variable spelling match) and the rule
 * for when a candidate is close enough to suggest. Pure: any thread. */
#ifndef CMN_SUGGEST_H
#define CMN_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* Names longer than this are never suggested (distance SIZE_MAX). */
#define CMN_SUGGEST_LENGTH_MAX 160

/* The distance between the first `a_length` bytes of `a` and of `b`, or
 * SIZE_MAX when either is longer than CMN_SUGGEST_LENGTH_MAX. */
size_t cmn_suggest_distance(const char *a, size_t a_length, const char *b,
                            size_t b_length);

/* True when a name of `length` bytes at `distance` from a candidate is a
 * likely typo of it: at most one edit per four characters, at least one
 * and at most three. */
bool cmn_suggest_close(size_t distance, size_t length);

#endif
