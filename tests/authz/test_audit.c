/*
 * Unit tests for src/authz/audit.c: the line format (every field, JSON escaping, ids), that no
 * credential ever reaches a line, events, flush on close, the bounded queue (drop + count when
 * the writer is stuck), reopen after rotation, and many threads logging at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <mcp/policy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

typedef struct fixture {
    char        dir[64];
    char        log[128];
    mcp_server *srv;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mcp-audit-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log, sizeof f->log, "%s/audit.log", f->dir);
    assert_int_equal(mcp_server_new(NULL, &f->srv, NULL), MCP_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    mcp_server_free(f->srv);
    char p[160];
    snprintf(p, sizeof p, "%s.1", f->log);
    unlink(p);
    unlink(f->log);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Every line of the file, parsed; fails on a line that is not one JSON object. */
static json_t *
read_lines(const char *path)
{
    json_t *arr = json_array();
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        assert_true(line[n - 1] == '\n');
        json_error_t jerr;
        json_t *v = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
        if (v == NULL || !json_is_object(v))
            fail_msg("not a JSON object line: %s (%s)", line, jerr.text);
        json_array_append_new(arr, v);
    }
    free(line);
    fclose(fp);
    return arr;
}

static const char *
sfield(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static mcp_audit *
open_log(const char *path, size_t queue_max)
{
    mcp_audit_opts o;
    mcp_audit_opts_default(&o);
    o.path = path;
    if (queue_max)
        o.queue_max = queue_max;
    mcp_audit *a = NULL;
    mcp_error err;
    assert_int_equal(mcp_audit_open(&o, &a, &err), MCP_OK);
    return a;
}

typedef struct treq {
    mcp_request req;
    json_t     *root;
    const char *auth_header;
} treq;

static const char *
hdr(void *tctx, const char *name)
{
    treq *t = tctx;
    return strcmp(name, "Authorization") == 0 ? t->auth_header : NULL;
}

static void
treq_init(treq *t, mcp_server *srv, json_t *id, const char *method, const char *target)
{
    mcp__request_init(&t->req, srv);
    t->req.http_method = "POST";
    t->req.peer = "127.0.0.1";
    t->req.header = hdr;
    t->req.tctx = t;
    t->auth_header = "Bearer SECRET-TOKEN-VALUE";
    t->root = json_pack("{s:s, s:o, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
    t->req.msg.kind = MCP__RPC_REQUEST;
    t->req.msg.method = json_string_value(json_object_get(t->root, "method"));
    t->req.msg.id = json_object_get(t->root, "id");
    t->req.target = target;
    t->req.session_id = "sess-1";
}

static void
treq_cleanup(treq *t)
{
    mcp__request_cleanup(&t->req);
    json_decref(t->root);
}

/* ---- format ------------------------------------------------------------------------------ */

static void
audit_line_has_every_field(void **state)
{
    fixture *f = *state;
    mcp_audit *a = open_log(f->log, 0);
    mcp_principal_fields pf = { .kind = MCP_CRED_JWT, .subject = "alice", .client_id = "cli-1",
                                .jti = "jti-9", .key_id = "kid-1",
                                .claims_json = "{\"secret\":\"CLAIM-SECRET\"}" };
    mcp_principal *p = NULL;
    assert_int_equal(mcp_principal_new(&pf, &p, NULL), MCP_OK);
    treq t;
    treq_init(&t, f->srv, json_integer(42), "tools/call", "delete_product");
    mcp_request_set_principal(&t.req, p);
    mcp_decision d = { "authz", false, MCP_ERR_FORBIDDEN,
                       "tool 'delete_product' requires any of: Admin.Write", "Admin.Write Root",
                       "tools/call", "delete_product" };
    mcp_audit_decision(a, &t.req, &d);
    mcp_decision ok = { "authn", true, MCP_OK, "", "", NULL, NULL };
    mcp_audit_decision(a, &t.req, &ok);
    treq_cleanup(&t);

    /* string id, no principal, rate limited */
    treq_init(&t, f->srv, json_string("req-\"7\""), "ping", NULL);
    t.req.session_id = NULL;
    mcp_decision rl = { "authz", false, MCP_ERR_RATE_LIMITED, "rate limit exceeded", "",
                        "ping", NULL };
    mcp_audit_decision(a, &t.req, &rl);
    treq_cleanup(&t);
    mcp_audit_close(a);                    /* flushes */

    json_t *lines = read_lines(f->log);
    assert_int_equal(json_array_size(lines), 3);
    json_t *l = json_array_get(lines, 0);
    static const char *const keys[] = { "time", "event", "decision", "status", "http_status",
                                        "reason", "missing", "subject", "client_id",
                                        "credential", "key_id", "jti", "method", "target",
                                        "session_id", "request_id", "peer", "transport", NULL };
    for (const char *const *k = keys; *k != NULL; k++)
        if (json_object_get(l, *k) == NULL)
            fail_msg("field %s missing", *k);
    assert_int_equal(json_object_size(l), 18);
    assert_string_equal(sfield(l, "event"), "authz");
    assert_string_equal(sfield(l, "decision"), "deny");
    assert_string_equal(sfield(l, "status"), "MCP_ERR_FORBIDDEN");
    assert_int_equal(json_integer_value(json_object_get(l, "http_status")), 403);
    assert_string_equal(sfield(l, "reason"), "tool 'delete_product' requires any of: Admin.Write");
    json_t *missing = json_object_get(l, "missing");
    assert_int_equal(json_array_size(missing), 2);
    assert_string_equal(json_string_value(json_array_get(missing, 0)), "Admin.Write");
    assert_string_equal(json_string_value(json_array_get(missing, 1)), "Root");
    assert_string_equal(sfield(l, "subject"), "alice");
    assert_string_equal(sfield(l, "client_id"), "cli-1");
    assert_string_equal(sfield(l, "credential"), "jwt");
    assert_string_equal(sfield(l, "jti"), "jti-9");
    assert_string_equal(sfield(l, "method"), "tools/call");
    assert_string_equal(sfield(l, "target"), "delete_product");
    /* a session id is a bearer-like secret: the line holds a short non-reversible form, the
     * first 16 hex digits of its SHA-256 (printf %s sess-1 | sha256sum | cut -c1-16) */
    assert_string_equal(sfield(l, "session_id"), "abe633f3a47a2758");
    assert_int_equal(json_integer_value(json_object_get(l, "request_id")), 42);
    assert_string_equal(sfield(l, "peer"), "127.0.0.1");
    assert_string_equal(sfield(l, "transport"), "POST");
    const char *time = sfield(l, "time");
    assert_int_equal(strlen(time), 24);                    /* 2026-01-02T03:04:05.678Z */
    assert_true(time[10] == 'T' && time[23] == 'Z');

    l = json_array_get(lines, 1);
    assert_string_equal(sfield(l, "event"), "authn");
    assert_string_equal(sfield(l, "decision"), "allow");
    assert_int_equal(json_integer_value(json_object_get(l, "http_status")), 200);
    assert_true(json_is_null(json_object_get(l, "method")));
    assert_int_equal(json_array_size(json_object_get(l, "missing")), 0);

    l = json_array_get(lines, 2);
    assert_int_equal(json_integer_value(json_object_get(l, "http_status")), 429);
    assert_true(json_is_null(json_object_get(l, "subject")));
    assert_true(json_is_null(json_object_get(l, "credential")));
    assert_string_equal(sfield(l, "request_id"), "req-\"7\"");
    assert_true(json_is_null(json_object_get(l, "session_id")));
    assert_string_equal(sfield(json_array_get(lines, 1), "session_id"), "abe633f3a47a2758");
    json_decref(lines);

    /* never a credential: not the Authorization header, not the claims */
    FILE *fp = fopen(f->log, "r");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    assert_null(strstr(buf, "SECRET-TOKEN-VALUE"));
    assert_null(strstr(buf, "CLAIM-SECRET"));
    assert_null(strstr(buf, "Bearer"));
    assert_null(strstr(buf, "sess-1"));                    /* nor the session id */
    mcp_principal_unref(p);
}

static void
audit_escapes_and_bounds_fields(void **state)
{
    fixture *f = *state;
    mcp_audit *a = open_log(f->log, 0);
    /* control characters, quotes, backslashes, UTF-8, and an over-long value */
    char target[2000];
    memset(target, 'x', sizeof target - 1);
    target[sizeof target - 1] = '\0';
    memcpy(target, "a\"b\\c\n\x01\x7f\xc3\xa9", 10);
    /* put a 2-byte character across the 512-byte cut */
    target[511] = '\xc3';
    target[512] = '\xa9';
    treq t;
    treq_init(&t, f->srv, json_integer(1), "tools/call", target);
    mcp_decision d = { "authz", false, MCP_ERR_FORBIDDEN, "why\t\"quoted\"", "", "tools/call",
                       target };
    mcp_audit_decision(a, &t.req, &d);
    treq_cleanup(&t);
    assert_int_equal(mcp_audit_flush(a, 5000), MCP_OK);
    json_t *lines = read_lines(f->log);
    json_t *l = json_array_get(lines, 0);
    const char *got = sfield(l, "target");
    assert_non_null(got);                           /* valid JSON and valid UTF-8 */
    assert_int_equal(memcmp(got, "a\"b\\c\n\x01\x7f\xc3\xa9", 10), 0);
    assert_int_equal(strlen(got), 511);               /* cut before the split character */
    assert_string_equal(sfield(l, "reason"), "why\t\"quoted\"");
    json_decref(lines);
    mcp_audit_close(a);
}

static void
audit_events_and_attach(void **state)
{
    fixture *f = *state;
    mcp_audit *a = open_log(f->log, 0);
    mcp_audit_event(a, "policy_reload", "failed", "policy.json: line 1 column 2: bad");
    mcp_audit_event(NULL, "x", "y", "z");                  /* no log: nothing, no crash */
    mcp_audit_attach(a, f->srv);
    assert_ptr_equal(f->srv->decision_fn, mcp_audit_decision);
    assert_ptr_equal(f->srv->decision_ctx, a);
    /* through the server's own reporting path */
    treq t;
    treq_init(&t, f->srv, json_integer(5), "tools/list", NULL);
    mcp__decide(&t.req, "authz", MCP_OK, "", "");
    treq_cleanup(&t);
    mcp_audit_attach(NULL, f->srv);
    assert_null(f->srv->decision_fn);
    mcp_audit_close(a);
    json_t *lines = read_lines(f->log);
    assert_int_equal(json_array_size(lines), 2);
    json_t *e = json_array_get(lines, 0);
    assert_string_equal(sfield(e, "event"), "policy_reload");
    assert_string_equal(sfield(e, "decision"), "failed");
    assert_string_equal(sfield(e, "reason"), "policy.json: line 1 column 2: bad");
    e = json_array_get(lines, 1);
    assert_string_equal(sfield(e, "method"), "tools/list");
    assert_string_equal(sfield(e, "decision"), "allow");
    json_decref(lines);
    mcp_audit_close(NULL);
}

/* ---- queue ------------------------------------------------------------------------------- */

static void *
close_main(void *a)
{
    mcp_audit_close(a);
    return NULL;
}

static void
audit_drops_and_counts_when_full(void **state)
{
    fixture *f = *state;
    /* the log is a pipe nobody reads yet: the writer blocks once the pipe is full */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", pfd[1]);
    mcp_audit *a = open_log(path, 8);
    char reason[400];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    treq t;
    treq_init(&t, f->srv, json_integer(1), "ping", NULL);
    mcp_decision d = { "authz", true, MCP_OK, reason, "", "ping", NULL };
    const int total = 2000;                   /* ~1 MB: far more than a pipe holds */
    for (int i = 0; i < total; i++)
        mcp_audit_decision(a, &t.req, &d);
    treq_cleanup(&t);
    uint64_t dropped = mcp_audit_dropped(a);
    assert_true(dropped > 0);
    assert_true(dropped < (uint64_t)total);
    /* drain the pipe in the background while closing: everything accepted gets written */
    FILE *in = fdopen(pfd[0], "r");
    assert_non_null(in);
    pthread_t closer;
    assert_int_equal(pthread_create(&closer, NULL, close_main, a), 0);
    close(pfd[1]);          /* the audit log has its own descriptor (opened by path) */
    uint64_t lines = 0;
    int c;
    while ((c = fgetc(in)) != EOF)
        lines += c == '\n';
    pthread_join(closer, NULL);
    fclose(in);
    assert_int_equal(lines + dropped, (uint64_t)total);
}

typedef struct par {
    mcp_audit  *a;
    mcp_server *srv;
} par;

static void *
par_worker(void *arg)
{
    par *p = arg;
    for (int i = 0; i < 500; i++) {
        treq t;
        treq_init(&t, p->srv, json_integer(i), "tools/list", NULL);
        mcp_decision d = { "authz", true, MCP_OK, "", "", "tools/list", NULL };
        mcp_audit_decision(p->a, &t.req, &d);
        treq_cleanup(&t);
    }
    return NULL;
}

static void
audit_many_threads_whole_lines(void **state)
{
    fixture *f = *state;
    mcp_audit *a = open_log(f->log, 100000);
    par p = { a, f->srv };
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, par_worker, &p), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(mcp_audit_flush(a, 10000), MCP_OK);
    assert_int_equal(mcp_audit_written(a), 2000);
    assert_int_equal(mcp_audit_dropped(a), 0);
    mcp_audit_close(a);
    json_t *lines = read_lines(f->log);        /* fails on any torn line */
    assert_int_equal(json_array_size(lines), 2000);
    json_decref(lines);
}

static void
audit_reopen_after_rotation(void **state)
{
    fixture *f = *state;
    mcp_audit *a = open_log(f->log, 0);
    mcp_audit_event(a, "one", "ok", "");
    assert_int_equal(mcp_audit_flush(a, 5000), MCP_OK);
    char rotated[160];
    snprintf(rotated, sizeof rotated, "%s.1", f->log);
    assert_int_equal(rename(f->log, rotated), 0);
    assert_int_equal(mcp_audit_reopen(a, NULL), MCP_OK);
    mcp_audit_event(a, "two", "ok", "");
    mcp_audit_close(a);
    json_t *l1 = read_lines(rotated), *l2 = read_lines(f->log);
    assert_int_equal(json_array_size(l1), 1);
    assert_int_equal(json_array_size(l2), 1);
    assert_string_equal(sfield(json_array_get(l2, 0), "event"), "two");
    json_decref(l1);
    json_decref(l2);
    /* a log that cannot be opened */
    mcp_audit_opts o;
    mcp_audit_opts_default(&o);
    o.path = "/nonexistent-dir/audit.log";
    mcp_error err;
    mcp_audit *bad = NULL;
    assert_int_equal(mcp_audit_open(&o, &bad, &err), MCP_ERR_IO);
    assert_null(bad);
    assert_non_null(strstr(err.message, "/nonexistent-dir/audit.log"));
    /* stderr: reopen is a no-op */
    o.path = NULL;
    assert_int_equal(mcp_audit_open(&o, &bad, &err), MCP_OK);
    assert_int_equal(mcp_audit_reopen(bad, &err), MCP_OK);
    mcp_audit_close(bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(audit_line_has_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_escapes_and_bounds_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_events_and_attach, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_drops_and_counts_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_many_threads_whole_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_reopen_after_rotation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
