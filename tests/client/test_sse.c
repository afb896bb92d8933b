/* Unit tests for src/client/sse.c: event framing must not depend on how bytes are chunked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "client/internal.h"

typedef struct seen {
    char   log[4096];     /* "type|id|data\n" per event */
    int    count;
    bool   fail_next;
} seen;

static mcp_status
on_event(void *ctx, const char *event, const char *data, size_t len, const char *id)
{
    seen *s = ctx;
    if (s->fail_next)
        return MCP_ERR_PARSE;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "%s|%s|%.*s\n", event, id ? id : "-", (int)len,
             data);
    s->count++;
    return MCP_OK;
}

/* Feed text in pieces of `step` bytes (0 = all at once) and return the event log. */
static void
feed_in_steps(const char *text, size_t len, size_t step, seen *s, long *retry, char **last_id)
{
    mcp__sse p;
    memset(s, 0, sizeof *s);
    mcp__sse_init(&p, 1 << 16, on_event, s);
    if (step == 0)
        step = len ? len : 1;
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        assert_int_equal(mcp__sse_feed(&p, text + i, n), MCP_OK);
    }
    if (retry)
        *retry = p.retry_ms;
    if (last_id)
        *last_id = p.last_id ? mcp__strdup(p.last_id) : NULL;
    mcp__sse_cleanup(&p);
}

static const char stream[] =
    "\xEF\xBB\xBF"                                   /* BOM */
    ": comment line\r\n"
    "id: 1\r\n"
    "retry: 500\r\n"
    "data: \r\n"                                     /* priming: id + empty data */
    "\r\n"
    "event: message\n"
    "id: 2\n"
    "data: {\"a\":1}\n"
    "\n"
    "data: line1\r"
    "data: line2\r"
    "\r"
    "event: ping\n"
    "data: x\n"
    "\n"
    "data:no-space\n"
    "unknown: ignored\n"
    "id\n"                                           /* field without colon: empty id */
    "\n"
    "data: incomplete-at-end-is-dropped\n";

static const char expected[] =
    "message|2|{\"a\":1}\n"
    "message|2|line1\nline2\n"
    "ping|2|x\n"
    "message||no-space\n";

static void
sse_same_events_for_every_chunking(void **state)
{
    (void)state;
    size_t len = sizeof stream - 1;
    for (size_t step = 0; step <= 9; step++) {
        seen s;
        long retry = 0;
        char *last = NULL;
        feed_in_steps(stream, len, step, &s, &retry, &last);
        assert_string_equal(s.log, expected);
        assert_int_equal(s.count, 4);
        assert_int_equal(retry, 500);
        assert_non_null(last);
        assert_string_equal(last, "");               /* "id" alone resets it */
        mcp__free(last);
    }
}

static void
sse_crlf_split_across_chunks_is_one_line_end(void **state)
{
    (void)state;
    /* "\r" ends a chunk and "\n" starts the next: must not count as an extra blank line,
     * which would dispatch "data: a" before "data: b" joins it. */
    const char *parts[] = { "data: a\r", "\ndata: b\r", "\n\r", "\n" };
    mcp__sse p;
    seen s;
    memset(&s, 0, sizeof s);
    mcp__sse_init(&p, 1024, on_event, &s);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(mcp__sse_feed(&p, parts[i], strlen(parts[i])), MCP_OK);
    assert_string_equal(s.log, "message|-|a\nb\n");
    mcp__sse_cleanup(&p);
}

static void
sse_priming_event_sets_last_id_without_dispatch(void **state)
{
    (void)state;
    seen s;
    long retry = 0;
    char *last = NULL;
    const char *t = "id: event-7\nretry: 1234\ndata: \n\n";
    feed_in_steps(t, strlen(t), 1, &s, &retry, &last);
    assert_int_equal(s.count, 0);
    assert_int_equal(retry, 1234);
    assert_string_equal(last, "event-7");
    mcp__free(last);
}

static void
sse_rejects_oversize_line_and_event(void **state)
{
    (void)state;
    mcp__sse p;
    seen s;
    memset(&s, 0, sizeof s);
    char big[200];
    memset(big, 'x', sizeof big);
    mcp__sse_init(&p, 64, on_event, &s);
    /* one line longer than the limit, fed in small pieces */
    assert_int_equal(mcp__sse_feed(&p, "data: ", 6), MCP_OK);
    mcp_status rc = MCP_OK;
    for (size_t i = 0; i < sizeof big && rc == MCP_OK; i += 10)
        rc = mcp__sse_feed(&p, big + i, 10);
    assert_int_equal(rc, MCP_ERR_TOO_LARGE);
    mcp__sse_cleanup(&p);

    /* many short data lines that together exceed the limit */
    mcp__sse_init(&p, 64, on_event, &s);
    rc = MCP_OK;
    for (int i = 0; i < 20 && rc == MCP_OK; i++)
        rc = mcp__sse_feed(&p, "data: 0123456789\n", 17);
    assert_int_equal(rc, MCP_ERR_TOO_LARGE);
    assert_int_equal(s.count, 0);
    mcp__sse_cleanup(&p);
}

static void
sse_callback_error_stops_parsing(void **state)
{
    (void)state;
    mcp__sse p;
    seen s;
    memset(&s, 0, sizeof s);
    s.fail_next = true;
    mcp__sse_init(&p, 1024, on_event, &s);
    assert_int_equal(mcp__sse_feed(&p, "data: x\n\n", 9), MCP_ERR_PARSE);
    mcp__sse_cleanup(&p);
}

static void
sse_ignores_bad_retry_and_nul_id(void **state)
{
    (void)state;
    seen s;
    long retry = 0;
    char *last = NULL;
    const char t[] = "retry: 12a\nretry: -5\nid: a\0b\ndata: d\n\n";
    feed_in_steps(t, sizeof t - 1, 3, &s, &retry, &last);
    assert_int_equal(retry, -1);
    assert_null(last);
    assert_string_equal(s.log, "message|-|d\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sse_same_events_for_every_chunking),
        cmocka_unit_test(sse_crlf_split_across_chunks_is_one_line_end),
        cmocka_unit_test(sse_priming_event_sets_last_id_without_dispatch),
        cmocka_unit_test(sse_rejects_oversize_line_and_event),
        cmocka_unit_test(sse_callback_error_stops_parsing),
        cmocka_unit_test(sse_ignores_bad_retry_and_nul_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
