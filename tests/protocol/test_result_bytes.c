/*
 * Results serialized with prepared bytes are byte for byte what the plain path produces
 * (issue 15): the 2026-07-28 decoration appended as bytes prepared at setup
 * (mcp__pr_emit_decorated) against mcp__pr_decorate + mcp__rpc_result, for every cache kind,
 * empty and non-empty results, string and integer ids, a title with characters JSON escapes,
 * with and without authentication (cacheScope); a result that has decoration members of its own
 * is merged as before. A tool result's structured content serialized once for both the value and
 * its text item (mcp_ctx_add_structured_text, and the text added when a handler adds no content):
 * the text is exactly the compact dump of the structured content, the result equals the one the
 * plain path builds, in both eras; the string escaper against jansson's on every ASCII byte and
 * on UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocol/internal.h"

typedef struct capture {
    mcp__sink sink;
    char      last[8192];
    int       n;
} capture;

static void
cap_emit(mcp__sink *s, char *msg, size_t len, bool final)
{
    (void)final;
    capture *c = (capture *)s;
    snprintf(c->last, sizeof c->last, "%.*s", (int)len, msg ? msg : "");
    c->n++;
    mcp__free(msg);
}

static bool cap_stream(mcp__sink *s) { (void)s; return false; }
static void cap_noop(mcp__sink *s) { (void)s; }

static mcp_server *
server(const char *title)
{
    mcp_server_opts o;
    mcp_server_opts_default(&o);
    o.name = "bytes \"test\"";
    o.version = "1.2.3";
    o.title = title;
    o.workers = 1;
    mcp_server *srv = NULL;
    assert_int_equal(mcp_server_new(&o, &srv, NULL), MCP_OK);
    return srv;
}

static mcp_status
authn_item(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)req; (void)ctx; (void)err;
    return MCP_OK;
}

/* fast and plain answers of one result; returns the fast one (static) */
static const char *
both(mcp_server *srv, const json_t *id, const char *result_json, int cache)
{
    static capture c = { { cap_emit, NULL, cap_stream, cap_noop, cap_noop, NULL }, "", 0 };
    json_t *r = json_loads(result_json, 0, NULL);
    assert_non_null(r);
    json_t *copy = json_deep_copy(r);
    mcp__pr_emit_decorated(srv, &c.sink, id, r, cache);
    mcp__pr_decorate(srv, copy, cache);
    size_t len = 0;
    char *plain = mcp__rpc_result(id, copy, &len);     /* steals copy */
    assert_non_null(plain);
    assert_string_equal(c.last, plain);
    mcp__free(plain);
    return c.last;
}

static void
decoration_bytes_equal_the_plain_path(void **state)
{
    (void)state;
    const char *results[] = { "{}", "{\"content\":[{\"type\":\"text\",\"text\":\"hi \\u00e9\"}]}",
                              "{\"tools\":[],\"nextCursor\":\"x\"}", "{\"a\":{}}" };
    const char *titles[] = { NULL, "T\\itle \"q\" \xc3\xa9" };
    json_t *ids[] = { json_integer(7), json_string("s\"1") };
    const int caches[] = { MCP__PR_CACHE_NONE, MCP__PR_CACHE_CALLER, MCP__PR_CACHE_PUBLIC,
                           MCP__PR_CACHE_PRIVATE };
    for (size_t t = 0; t < 2; t++) {
        mcp_server *srv = server(titles[t]);
        for (int auth = 0; auth < 2; auth++) {
            if (auth)
                assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHN, authn_item, NULL, NULL),
                                 MCP_OK);
            for (size_t r = 0; r < sizeof results / sizeof *results; r++)
                for (size_t i = 0; i < 2; i++)
                    for (size_t k = 0; k < 4; k++) {
                        const char *s = both(srv, ids[i], results[r], caches[k]);
                        assert_non_null(strstr(s, "\"resultType\":\"complete\""));
                        assert_non_null(strstr(s, "io.modelcontextprotocol/serverInfo"));
                        if (caches[k] == MCP__PR_CACHE_NONE)
                            assert_null(strstr(s, "cacheScope"));
                        else if (caches[k] == MCP__PR_CACHE_PRIVATE ||
                                 (caches[k] == MCP__PR_CACHE_CALLER && auth))
                            assert_non_null(strstr(s, "\"cacheScope\":\"private\""));
                        else
                            assert_non_null(strstr(s, "\"cacheScope\":\"public\""));
                    }
        }
        mcp_server_free(srv);
    }
    json_decref(ids[0]);
    json_decref(ids[1]);
}

static void
own_decoration_members_are_merged(void **state)
{
    (void)state;
    mcp_server *srv = server(NULL);
    json_t *id = json_integer(1);
    const char *s = both(srv, id, "{\"_meta\":{\"mine\":1},\"x\":2}", MCP__PR_CACHE_NONE);
    assert_non_null(strstr(s, "\"_meta\":{\"mine\":1,\"io.modelcontextprotocol/serverInfo\""));
    s = both(srv, id, "{\"resultType\":\"incomplete\"}", MCP__PR_CACHE_PUBLIC);
    assert_non_null(strstr(s, "\"resultType\":\"incomplete\""));
    assert_null(strstr(s, "\"complete\""));
    s = both(srv, id, "{\"ttlMs\":5}", MCP__PR_CACHE_NONE);
    assert_non_null(strstr(s, "\"ttlMs\":5"));
    s = both(srv, id, "{\"cacheScope\":\"x\"}", MCP__PR_CACHE_PUBLIC);
    assert_non_null(strstr(s, "\"cacheScope\":\"public\""));
    json_decref(id);
    mcp_server_free(srv);
}

/* ---- structured content and its text ------------------------------------------------------ */

static const char SC[] = "{\"products\":[{\"id\":1,\"name\":\"Esp\\\"resso \\\\ m\\u00e4chine\","
                         "\"price\":12.5,\"tags\":[\"a/b\",\"\\n\\t\\u0001\"],\"ok\":true,"
                         "\"none\":null}],\"total\":-3}";

static int mode;

static mcp_status
tool(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *sc = json_loads(SC, 0, NULL);
    assert_non_null(sc);
    mcp_status rc = MCP_OK;
    switch (mode) {
    case 0:                                   /* structured only: the server adds the text */
        break;
    case 1:                                   /* summary, then the text, as mcp-products */
        rc = mcp_ctx_add_text(ctx, "1 of 3 \"products\"", err);
        if (rc == MCP_OK)
            rc = mcp_ctx_add_structured_text(ctx, err);
        break;
    case 2:                                   /* the text first, then more content */
        rc = mcp_ctx_add_structured_text(ctx, err);
        if (rc == MCP_OK)
            rc = mcp_ctx_add_text(ctx, "after", err);
        if (rc == MCP_OK)
            assert_int_equal(mcp_ctx_add_structured_text(ctx, err), MCP_ERR_STATE);
        mcp_error_clear(err);
        break;
    case 3:                                   /* the text, but no structured content */
        json_decref(sc);
        sc = NULL;
        rc = mcp_ctx_add_text(ctx, "only", err);
        if (rc == MCP_OK)
            rc = mcp_ctx_add_structured_text(ctx, err);
        break;
    case 4:                                   /* other members: isError */
        rc = mcp_ctx_add_structured_text(ctx, err);
        if (rc == MCP_OK)
            json_object_set_new(ctx->result, "isError", json_true());
        break;
    case 5:                                   /* a result of its own drops the item */
        rc = mcp_ctx_add_structured_text(ctx, err);
        if (rc == MCP_OK)
            rc = mcp_ctx_set_result_take(ctx, json_pack("{s:[{s:s,s:s}]}", "content", "type",
                                                        "text", "text", "custom"), err);
        break;
    }
    if (rc == MCP_OK && sc != NULL)
        rc = mcp_ctx_set_structured_take(ctx, sc, err);
    return rc;
}

#define CALL "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"t\"," \
             "\"arguments\":{},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":" \
             "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

/* Run tool() in a handler context; the parsed answer's result (new reference). */
static json_t *
call(mcp_server *srv, bool modern, char *raw, size_t cap)
{
    static capture c = { { cap_emit, NULL, cap_stream, cap_noop, cap_noop, NULL }, "", 0 };
    mcp_request req;
    mcp_error err;
    mcp_error_clear(&err);
    mcp__request_init(&req, srv);
    assert_int_equal(mcp__rpc_parse(CALL, strlen(CALL), &req.msg, NULL, &err), MCP_OK);
    req.era = modern ? MCP__REQ_MODERN : MCP__REQ_LEGACY;
    mcp_ctx *ctx = mcp__pr_ctx_new(&req, &c.sink, CTX_TOOL);
    assert_non_null(ctx);
    mcp_status rc = tool(ctx, NULL, &err);
    assert_int_equal(rc, MCP_OK);
    c.last[0] = '\0';
    mcp__pr_finish_handler(ctx, rc, &err);
    mcp__pr_ctx_free(ctx);
    mcp__request_cleanup(&req);
    snprintf(raw, cap, "%s", c.last);
    json_t *m = json_loads(c.last, 0, NULL);
    assert_non_null(m);
    json_t *r = json_incref(json_object_get(m, "result"));
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 9);
    json_decref(m);
    return r;
}

/* What the plain path answers for mode: the text built with json_dumps. */
static json_t *
expected(int m, bool modern, mcp_server *srv)
{
    json_t *sc = json_loads(SC, 0, NULL);
    char *text = json_dumps(sc, JSON_COMPACT);
    json_t *t = json_pack("{s:s, s:s}", "type", "text", "text", text);
    free(text);
    json_t *content = json_array(), *r = json_object();
    if (m == 0)
        json_array_append_new(content, t);
    else if (m == 1) {
        json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text",
                                                 "1 of 3 \"products\""));
        json_array_append_new(content, t);
    } else if (m == 2) {
        json_array_append_new(content, t);
        json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", "after"));
    } else if (m == 3) {
        json_decref(t);
        json_decref(sc);
        sc = NULL;
        json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", "only"));
    } else if (m == 4) {
        json_array_append_new(content, t);
        json_object_set_new(r, "isError", json_true());
    } else {
        json_decref(t);
        json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", "custom"));
    }
    json_object_set_new(r, "content", content);
    if (sc != NULL)
        json_object_set_new(r, "structuredContent", sc);
    if (modern)
        mcp__pr_decorate(srv, r, MCP__PR_CACHE_NONE);
    return r;
}

static void
structured_text_serialized_once(void **state)
{
    (void)state;
    mcp_server *srv = server("T");
    char raw[8192];
    for (int modern = 0; modern < 2; modern++) {
        for (mode = 0; mode <= 5; mode++) {
            json_t *got = call(srv, modern, raw, sizeof raw);
            json_t *want = expected(mode, modern, srv);
            if (!json_equal(got, want)) {
                char *w = json_dumps(want, JSON_COMPACT);
                fail_msg("mode %d modern %d:\n got %s\nwant %s", mode, modern, raw, w);
            }
            json_decref(want);
            /* the text is the compact dump, byte for byte, and the value follows it unchanged */
            if (mode != 3 && mode != 5) {
                char *dump = json_dumps(json_object_get(got, "structuredContent"), JSON_COMPACT);
                json_t *item = NULL;
                size_t i;
                json_t *it;
                json_array_foreach(json_object_get(got, "content"), i, it)
                    if (strncmp(json_string_value(json_object_get(it, "text")), "{", 1) == 0)
                        item = it;
                assert_non_null(item);
                assert_string_equal(json_string_value(json_object_get(item, "text")), dump);
                char sc_member[4096];
                snprintf(sc_member, sizeof sc_member, "\"structuredContent\":%s", dump);
                assert_non_null(strstr(raw, sc_member));
                free(dump);
            }
            json_decref(got);
        }
    }
    mcp_server_free(srv);
}

static void
escaper_matches_jansson(void **state)
{
    (void)state;
    char in[300];
    size_t n = 0;
    for (int ch = 1; ch < 128; ch++)
        in[n++] = (char)ch;
    static const char utf8[] = "\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80/\\\"";
    memcpy(in + n, utf8, sizeof utf8 - 1);
    n += sizeof utf8 - 1;
    size_t compared = 0;
    for (size_t len = 0; len <= n; len += (len < 40 ? 1 : 3)) {
        json_t *s = json_stringn(in + (n - len), len);
        if (s == NULL)
            continue;                     /* the slice starts inside a UTF-8 sequence */
        compared++;
        char *want = json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY);
        mcp_buf b;
        mcp__buf_init(&b, 0);
        assert_int_equal(mcp__buf_append(&b, "\"", 1), MCP_OK);
        assert_int_equal(mcp__json_escape_into(&b, in + (n - len), len), MCP_OK);
        assert_int_equal(mcp__buf_append(&b, "\"", 1), MCP_OK);
        assert_string_equal(b.ptr, want);
        mcp__buf_cleanup(&b);
        free(want);
        json_decref(s);
    }
    assert_true(compared > 60);
    /* a bounded buffer: too large, not truncated */
    mcp_buf b;
    mcp__buf_init(&b, 8);
    assert_int_equal(mcp__json_escape_into(&b, "\"\"\"\"\"", 5), MCP_ERR_TOO_LARGE);
    mcp__buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decoration_bytes_equal_the_plain_path),
        cmocka_unit_test(own_decoration_members_are_merged),
        cmocka_unit_test(structured_text_serialized_once),
        cmocka_unit_test(escaper_matches_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
