/*
 * Results serialized with prepared bytes are byte for byte what the plain path produces
 * (issue 15): the 2026-07-28 decoration appended as bytes prepared at setup
 * (mcp__pr_emit_decorated) against mcp__pr_decorate + mcp__rpc_result, for every cache kind,
 * empty and non-empty results, string and integer ids, a title with characters JSON escapes,
 * with and without authentication (cacheScope); a result that has decoration members of its own
 * is merged as before.
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decoration_bytes_equal_the_plain_path),
        cmocka_unit_test(own_decoration_members_are_merged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
