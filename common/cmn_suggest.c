/* cmn_suggest: edit distance for "did you mean" (cmn_config's unknown
 * flags and variables). Three rows of the classic dynamic programme; the
 * adjacent swap makes "QUEUE" / "QEUUE" one edit, as people type. */
#include "cmn_suggest.h"

#include <ctype.h>
#include <stdint.h>

#define CMN_SUGGEST_EDITS_PER_CHAR 4 /* one edit allowed per 4 characters */
#define CMN_SUGGEST_EDITS_MAX 3

static int s_fold(char c)
{
    return c == '-' ? '_' : toupper((unsigned char)c);
}

static size_t s_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

size_t cmn_suggest_distance(const char *a, size_t a_length, const char *b,
                            size_t b_length)
{
    if (a_length > CMN_SUGGEST_LENGTH_MAX || b_length > CMN_SUGGEST_LENGTH_MAX)
        return SIZE_MAX;
    size_t rows[3][CMN_SUGGEST_LENGTH_MAX + 1];
    size_t *before = rows[0], *previous = rows[1], *current = rows[2];
    for (size_t j = 0; j <= b_length; j++)
        previous[j] = j;
    for (size_t i = 1; i <= a_length; i++) {
        current[0] = i;
        for (size_t j = 1; j <= b_length; j++) {
            size_t cost = s_fold(a[i - 1]) != s_fold(b[j - 1]);
            size_t best = s_min(previous[j] + 1, current[j - 1] + 1);
            best = s_min(best, previous[j - 1] + cost);
            if (i > 1 && j > 1 && s_fold(a[i - 1]) == s_fold(b[j - 2]) &&
                s_fold(a[i - 2]) == s_fold(b[j - 1]))
                best = s_min(best, before[j - 2] + 1);
            current[j] = best;
        }
        size_t *spare = before;
        before = previous;
        previous = current;
        current = spare;
    }
    return previous[b_length];
}

bool cmn_suggest_close(size_t distance, size_t length)
{
    size_t allowed = length / CMN_SUGGEST_EDITS_PER_CHAR;
    if (allowed < 1)
        allowed = 1;
    if (allowed > CMN_SUGGEST_EDITS_MAX)
        allowed = CMN_SUGGEST_EDITS_MAX;
    return distance > 0 && distance <= allowed;
}
