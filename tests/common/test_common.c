/* Unit tests for src/common: base64url strictness, bounded buffers, constant-time compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"

#include <fcntl.h>
#include <pthread.h>
#include <jansson.h>
#include <unistd.h>

static void
b64url_roundtrip(void **state)
{
    (void)state;
    const unsigned char in[] = "hello, world!";
    char *enc = mcp__b64url_encode(in, sizeof in - 1);
    assert_string_equal(enc, "aGVsbG8sIHdvcmxkIQ");
    unsigned char *dec;
    size_t n;
    assert_int_equal(mcp__b64url_decode(enc, strlen(enc), &dec, &n), MCP_OK);
    assert_int_equal(n, sizeof in - 1);
    assert_memory_equal(dec, in, n);
    mcp__free(enc);
    mcp__free(dec);
}

static void
b64url_rejects_padding_and_std_alphabet(void **state)
{
    (void)state;
    unsigned char *dec;
    size_t n;
    assert_int_equal(mcp__b64url_decode("aGk=", 4, &dec, &n), MCP_ERR_PARSE);
    assert_int_equal(mcp__b64url_decode("a+/b", 4, &dec, &n), MCP_ERR_PARSE);
    assert_int_equal(mcp__b64url_decode("a", 1, &dec, &n), MCP_ERR_PARSE);
    assert_int_equal(mcp__b64url_decode("aGk", 3, &dec, &n), MCP_OK);   /* "hi" */
    mcp__free(dec);
    assert_int_equal(mcp__b64url_decode("aGl", 3, &dec, &n), MCP_ERR_PARSE); /* stray bits */
}

static void
buf_enforces_max(void **state)
{
    (void)state;
    mcp_buf b;
    mcp__buf_init(&b, 8);
    assert_int_equal(mcp__buf_appends(&b, "12345678"), MCP_OK);
    assert_int_equal(mcp__buf_appends(&b, "9"), MCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.ptr, "12345678");
    mcp__buf_cleanup(&b);
}

static void
ct_equal_compares_length_and_bytes(void **state)
{
    (void)state;
    assert_true(mcp_ct_equal("abc", 3, "abc", 3));
    assert_false(mcp_ct_equal("abc", 3, "abd", 3));
    assert_false(mcp_ct_equal("abc", 3, "abcd", 4));
    assert_true(mcp_ct_equal("", 0, "", 0));
}

static void
status_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(mcp_status_name(MCP_ERR_UNAUTHENTICATED), "MCP_ERR_UNAUTHENTICATED");
    assert_int_equal(MCP_ERR_FORBIDDEN, 6);
    mcp_error e;
    assert_int_equal(mcp_error_set(&e, MCP_ERR_PARSE, "bad %s", "thing"), MCP_ERR_PARSE);
    assert_string_equal(e.message, "bad thing");
    assert_int_equal(mcp_error_set(NULL, MCP_ERR_IO, "x"), MCP_ERR_IO);
}

static void
version_matches_the_headers(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MCP_VERSION_MAJOR, MCP_VERSION_MINOR,
             MCP_VERSION_PATCH);
    assert_string_equal(mcp_version(), MCP_VERSION_STRING);
    assert_string_equal(mcp_version(), want);
    assert_int_equal(mcp_version_num(), MCP_VERSION_NUM);
    assert_int_equal(mcp_version_num() >> 16, MCP_VERSION_MAJOR);
    assert_int_equal((mcp_version_num() >> 8) & 0xff, MCP_VERSION_MINOR);
    assert_int_equal(mcp_version_num() & 0xff, MCP_VERSION_PATCH);
}

typedef struct seen {
    int           n;
    mcp_log_level level;
    char          component[32];
    char          message[128];
} seen;

static void
on_log(mcp_log_level level, const char *component, const char *message, void *udata)
{
    seen *s = udata;
    s->n++;
    s->level = level;
    snprintf(s->component, sizeof s->component, "%s", component);
    snprintf(s->message, sizeof s->message, "%s", message);
}

/* Issue 14: the library's log has a public level, a handler and a JSON format. */
static void
log_level_handler_and_json(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof s);
    mcp_log_set_handler(on_log, &s);
    mcp__log(MCP__LOG_INFO, "test", "hello %d", 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.level, MCP_LOG_INFO);
    assert_string_equal(s.component, "test");
    assert_string_equal(s.message, "hello 1");
    mcp__log(MCP__LOG_DEBUG, "test", "hidden");             /* below the default (info) */
    assert_int_equal(s.n, 1);
    mcp_log_set_level(MCP_LOG_WARNING);
    mcp__log(MCP__LOG_INFO, "test", "hidden too");
    assert_int_equal(s.n, 1);
    mcp__log(MCP__LOG_WARN, "test", "shown");
    assert_int_equal(s.n, 2);
    assert_int_equal(s.level, MCP_LOG_WARNING);
    mcp_log_set_level(MCP_LOG_DEBUG);
    mcp__log(MCP__LOG_DEBUG, "test", "debug now");
    assert_int_equal(s.n, 3);
    assert_int_equal(s.level, MCP_LOG_DEBUG);
    mcp_log_set_level(MCP_LOG_CRITICAL);                     /* counts as error */
    mcp__log(MCP__LOG_WARN, "test", "no");
    mcp__log(MCP__LOG_ERROR, "test", "yes");
    assert_int_equal(s.n, 4);
    assert_string_equal(s.message, "yes");
    mcp_log_set_handler(NULL, NULL);
    mcp_log_set_level(MCP_LOG_INFO);

    /* JSON lines on stderr, every string escaped */
    char path[64];
    snprintf(path, sizeof path, "/tmp/mcp-test-log-%d", (int)getpid());
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    mcp_log_set_json(true);
    mcp__log(MCP__LOG_WARN, "c\"x", "quote \" backslash \\ newline \n tab \t end");
    mcp_log_set_json(false);
    mcp__log(MCP__LOG_INFO, "text", "plain line");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    assert_non_null(fgets(line, sizeof line, f));
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "component")), "c\"x");
    assert_string_equal(json_string_value(json_object_get(o, "message")),
                        "quote \" backslash \\ newline \n tab \t end");
    assert_non_null(json_string_value(json_object_get(o, "time")));
    json_decref(o);
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, " info text: plain line\n"));
    assert_int_equal(line[0], '2');                            /* text: starts with the time */
    fclose(f);
    unlink(path);
}

/* Lines logged by several threads at once come out whole, one per line, each with its time
 * stamp in the documented form (one write(2) per line, no lock held across it). */
#define LOG_THREADS 4
#define LOG_LINES 2000
static void *
log_many(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < LOG_LINES; i++)
        mcp__log(MCP__LOG_INFO, "race", "thread %d line %d %0200d", t, i, 0);
    return NULL;
}

static void
log_lines_from_threads_stay_whole(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/mcp-test-log-race-%d", (int)getpid());
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    pthread_t th[LOG_THREADS];
    for (int t = 0; t < LOG_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, log_many, (void *)(intptr_t)t), 0);
    for (int t = 0; t < LOG_THREADS; t++)
        pthread_join(th[t], NULL);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int next_of[LOG_THREADS] = { 0 }, n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        int y, mo, d, h, mi, se, ms, t, i;
        char z;
        assert_int_equal(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c info race: thread %d line %d",
                                &y, &mo, &d, &h, &mi, &se, &ms, &z, &t, &i), 10);
        assert_int_equal(z, 'Z');
        assert_true(y >= 2024 && mo >= 1 && mo <= 12 && ms >= 0 && ms <= 999);
        assert_true(t >= 0 && t < LOG_THREADS);
        assert_int_equal(i, next_of[t]);                /* each thread's lines in its order */
        next_of[t]++;
        size_t len = strlen(line);
        assert_true(len > 200 && line[len - 1] == '\n');
        n++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(n, LOG_THREADS * LOG_LINES);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_roundtrip),
        cmocka_unit_test(b64url_rejects_padding_and_std_alphabet),
        cmocka_unit_test(buf_enforces_max),
        cmocka_unit_test(ct_equal_compares_length_and_bytes),
        cmocka_unit_test(status_names_are_stable),
        cmocka_unit_test(version_matches_the_headers),
        cmocka_unit_test(log_level_handler_and_json),
        cmocka_unit_test(log_lines_from_threads_stay_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
