/* mdbp_text: records as text lines, for file replay and the dead-letter
 * file.
 *
 * Two line formats (ingest.md, "Records as text"): NDJSON, one object per
 * line with the record's keys spelled out, and CSV with a fixed column order
 * per kind. Both readers are strict and report what is wrong; blank lines and
 * lines starting with '#' are the caller's to skip. */
#ifndef MDBP_TEXT_H
#define MDBP_TEXT_H

#include <stdio.h>

#include <mdbp/common.h>
#include <mdbp/feedback.h>

#ifdef __cplusplus
extern "C" {
#endif

/* mdbp_text_read_line results besides 1 (a line), 0 (end of file) and -1
 * (read error, errno set). The whole line was consumed either way. */
#define MDBP_TEXT_LINE_TOO_LONG 2 /* more than max_length bytes */
#define MDBP_TEXT_LINE_HAS_NUL 3  /* a NUL byte: not a text line */

/* Reads one line of `file` into `line` (capacity at least max_length + 2)
 * without its line break ("\n" or "\r\n"), NUL-terminated, its length in
 * `*length`. A line is too long when it holds more than `max_length` bytes
 * without the line break (exactly); a line holding a NUL byte is refused
 * whole, so no tail of it is ever read as the next line. Returns 1, 0 at
 * the end of the file, -1, MDBP_TEXT_LINE_TOO_LONG or
 * MDBP_TEXT_LINE_HAS_NUL. */
MDBP_EXPORT int mdbp_text_read_line(FILE *file, char *line, size_t max_length,
                                    size_t *length);

/* Parses one NDJSON object into `record`. Unknown keys are ignored (so a
 * dead-letter line's "reason" does not get in the way). Returns 0 or -1 with
 * `error`. */
MDBP_EXPORT int mdbp_text_parse_json(const char *line, mdbp_record_t *record,
                                     mdbp_error_t *error);

/* Parses one CSV line: kind,provider,symbol,ts_ns,fields... Returns 0 or -1
 * with `error`. A header line (first field "kind") returns 1. */
MDBP_EXPORT int mdbp_text_parse_csv(const char *line, mdbp_record_t *record,
                                    mdbp_error_t *error);

/* Writes `record` as one NDJSON object (no newline) into `out`; when `reason`
 * is not NULL it is added as "reason". Returns the length written, or -1 when
 * `capacity` is too small. */
MDBP_EXPORT int mdbp_text_format_json(const mdbp_record_t *record,
                                      const char *reason, char *out,
                                      size_t capacity);

/* Bytes that always hold one feedback event as JSON, NUL included (every
 * string escaped at worst as \u00XX). */
#define MDBP_TEXT_FEEDBACK_JSON_MAX 2048

/* Writes a feedback event as one JSON object (no newline) with the keys of
 * feedback.md, `v` first, type and levels as names, the optional keys
 * (v1.1 ones included) only when present: what mds-feedback-tail prints and the webhook posts. Returns
 * the length written, or -1 when `capacity` is too small. */
MDBP_EXPORT int mdbp_text_format_feedback_json(const mdbp_feedback_t *event,
                                               char *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
