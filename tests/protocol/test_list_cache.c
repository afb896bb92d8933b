/*
 * The cached lists (src/protocol/list_cache.c), through the server's body pipeline without a
 * network: callers with different permission sets get their own lists, equal sets (in any order,
 * with duplicates) share one, a cached answer is byte for byte the answer built afresh, and the
 * cache follows everything that changes a list: registration, list_changed, a new authorizer,
 * an RBAC policy reload; an authorizer that reports no generation is never cached; the
 * 2026-07-28 answer (decorated) is kept apart from the 2025 one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/policy.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static capture cap = { { cap_emit, NULL, cap_stream, cap_noop, cap_noop, NULL }, "", 0 };

/* 2026 request headers (only for modern requests) */
static const char *
hdr26(void *tctx, const char *name)
{
    if (strcmp(name, "MCP-Protocol-Version") == 0)
        return "2026-07-28";
    if (strcmp(name, "Mcp-Method") == 0)
        return tctx;
    return NULL;
}

/* Run one JSON-RPC message as principal p; the answer is in cap.last. */
static void
run(mcp_server *srv, const mcp_principal *p, bool modern, const char *msg, const char *method)
{
    mcp_request req;
    mcp_error err;
    mcp_error_clear(&err);
    mcp__request_init(&req, srv);
    req.http_method = "POST";
    req.has_body = true;
    if (modern) {
        req.era = MCP__REQ_MODERN;
        req.header = hdr26;
        req.tctx = (void *)method;
    }
    if (p != NULL)
        mcp_request_set_principal(&req, p);
    json_t *id = NULL;
    mcp__dispatch_result res;
    cap.last[0] = '\0';
    mcp_status rc = mcp__run_body(&req, msg, strlen(msg), &cap.sink, &res, NULL, &id, &err);
    if (rc != MCP_OK)
        fail_msg("run_body: %s", err.message);
    json_decref(id);
    mcp__request_cleanup(&req);
}

static char out[8192];

/* The answer of `method` (tools/list, ...) with id and optional params, as p (stateless). */
static const char *
list(mcp_server *srv, const mcp_principal *p, const char *method, int id, const char *params)
{
    char msg[512];
    snprintf(msg, sizeof msg, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}", id, method,
             params ? ",\"params\":" : "", params ? params : "");
    run(srv, p, false, msg, method);
    snprintf(out, sizeof out, "%s", cap.last);
    return out;
}

static void
stats(mcp_server *srv, uint64_t *hits, uint64_t *misses)
{
    mcp__list_cache_stats(mcp__pr_lists(srv), hits, misses);
}

static mcp_status
nop_tool(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, "ok", err);
}

static mcp_status
nop_prompt(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)ctx; (void)u; (void)err;
    return MCP_OK;
}

static mcp_status
nop_res(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_resource_text(ctx, uri, NULL, "x", err);
}

static const char *const X[] = { "X", NULL };
static const char *const Y[] = { "Y", NULL };
static const char *const XY[] = { "X", "Y", NULL };

static void
add_tool(mcp_server *srv, const char *name, const char *const *any, const char *const *all,
         bool anyone)
{
    mcp_tool_def d = { .name = name, .description = "a tool", .handler = nop_tool,
                       .access = { .any_of_perms = any, .all_of_perms = all,
                                   .any_authenticated = anyone } };
    mcp_error err;
    if (mcp_server_add_tool(srv, &d, NULL, &err) != MCP_OK)
        fail_msg("add_tool: %s", err.message);
}

static mcp_server *
new_server(void)
{
    mcp_server_opts o;
    mcp_server_opts_default(&o);
    o.stateless = true;
    o.workers = 1;
    mcp_server *srv = NULL;
    assert_int_equal(mcp_server_new(&o, &srv, NULL), MCP_OK);
    add_tool(srv, "t_x", X, NULL, false);
    add_tool(srv, "t_y", Y, NULL, false);
    add_tool(srv, "t_all", NULL, XY, false);
    add_tool(srv, "t_anyone", NULL, NULL, true);
    mcp_prompt_def pd = { .name = "p_x", .description = "a prompt", .handler = nop_prompt,
                          .access = { .any_of_perms = X } };
    mcp_resource_def rd = { .uri = "mem://y", .name = "r_y", .handler = nop_res,
                            .access = { .any_of_perms = Y } };
    mcp_resource_def td = { .uri_template = "mem://x/{id}", .name = "tpl_x", .handler = nop_res,
                            .access = { .any_of_perms = X } };
    assert_int_equal(mcp_server_add_prompt(srv, &pd, NULL, NULL), MCP_OK);
    assert_int_equal(mcp_server_add_resource(srv, &rd, NULL, NULL), MCP_OK);
    assert_int_equal(mcp_server_add_resource(srv, &td, NULL, NULL), MCP_OK);
    return srv;
}

static mcp_principal *
principal(const char *sub, const char *const *perms)
{
    mcp_principal_fields f = { .kind = MCP_CRED_API_KEY, .subject = sub };
    mcp_principal *p = NULL;
    assert_int_equal(mcp_principal_new(&f, &p, NULL), MCP_OK);
    for (; perms != NULL && *perms != NULL; perms++)
        assert_int_equal(mcp_principal_add_permission(p, *perms, NULL), MCP_OK);
    return p;
}

static bool
has(const char *s, const char *name)
{
    char q[96];
    snprintf(q, sizeof q, "\"name\":\"%s\"", name);
    return strstr(s, q) != NULL;
}

/* ---- per permission set ------------------------------------------------------------------- */

static void
lists_are_cached_per_permission_set(void **state)
{
    (void)state;
    mcp_server *srv = new_server();
    mcp_principal *px = principal("x", X), *py = principal("y", Y);
    mcp_principal *pyx = principal("yx", (const char *[]){ "Y", "X", "X", NULL });
    mcp_principal *pxy = principal("xy", XY), *pnone = principal("none", NULL);
    uint64_t h, m;

    char fresh[8192];
    snprintf(fresh, sizeof fresh, "%s", list(srv, px, "tools/list", 5, "{\"cursor\":null}"));
    stats(srv, &h, &m);
    assert_int_equal(h + m, 0);              /* a cursor (even null) is never cached */
    const char *a = list(srv, px, "tools/list", 5, NULL);
    assert_string_equal(a, fresh);           /* built and stored: the same bytes */
    assert_string_equal(list(srv, px, "tools/list", 5, "{}"), fresh);   /* from the cache */
    stats(srv, &h, &m);
    assert_int_equal(m, 1);
    assert_int_equal(h, 1);
    assert_true(has(fresh, "t_x") && has(fresh, "t_anyone"));
    assert_false(has(fresh, "t_y") || has(fresh, "t_all"));
    /* another id: same result, its own id */
    a = list(srv, px, "tools/list", 6, NULL);
    assert_non_null(strstr(a, "\"id\":6,"));
    assert_string_equal(strstr(a, "\"result\""), strstr(fresh, "\"result\""));
    /* a string id is written as JSON */
    list(srv, px, "tools/list", 0, NULL);
    run(srv, px, false, "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"tools/list\"}", NULL);
    assert_non_null(strstr(cap.last, "\"id\":\"a\\\"b\","));

    /* a different set, a different list, though the cache holds px's */
    a = list(srv, py, "tools/list", 7, NULL);
    assert_true(has(a, "t_y") && has(a, "t_anyone"));
    assert_false(has(a, "t_x") || has(a, "t_all"));
    a = list(srv, py, "tools/list", 7, NULL);
    assert_true(has(a, "t_y"));
    assert_false(has(a, "t_x"));
    /* {Y, X, X} and {X, Y} are one set: the second is a hit with the first's answer */
    char yx[8192];
    snprintf(yx, sizeof yx, "%s", list(srv, pyx, "tools/list", 8, NULL));
    assert_true(has(yx, "t_x") && has(yx, "t_y") && has(yx, "t_all") && has(yx, "t_anyone"));
    stats(srv, &h, &m);
    uint64_t h0 = h;
    assert_string_equal(list(srv, pxy, "tools/list", 8, NULL), yx);
    stats(srv, &h, &m);
    assert_int_equal(h, h0 + 1);
    /* no permissions and no principal: only the tool for any authenticated caller */
    a = list(srv, pnone, "tools/list", 9, NULL);
    assert_true(has(a, "t_anyone"));
    assert_false(has(a, "t_x") || has(a, "t_y") || has(a, "t_all"));
    a = list(srv, NULL, "tools/list", 9, NULL);
    assert_true(has(a, "t_anyone"));
    assert_false(has(a, "t_x"));

    /* the other lists are kept apart from tools/list and from each other */
    a = list(srv, px, "prompts/list", 10, NULL);
    assert_true(has(a, "p_x"));
    assert_non_null(strstr(list(srv, px, "prompts/list", 10, NULL), "\"prompts\":[{"));
    assert_non_null(strstr(list(srv, py, "prompts/list", 10, NULL), "\"prompts\":[]"));
    assert_non_null(strstr(list(srv, py, "resources/list", 11, NULL), "mem://y"));
    assert_non_null(strstr(list(srv, py, "resources/list", 11, NULL), "mem://y"));
    assert_non_null(strstr(list(srv, px, "resources/list", 11, NULL), "\"resources\":[]"));
    assert_non_null(strstr(list(srv, px, "resources/templates/list", 12, NULL), "mem://x/{id}"));
    assert_non_null(strstr(list(srv, py, "resources/templates/list", 12, NULL),
                           "\"resourceTemplates\":[]"));
    /* a bad cursor is still an error, never a cached list */
    a = list(srv, px, "tools/list", 13, "{\"cursor\":\"%%%\"}");
    assert_non_null(strstr(a, "\"error\""));
    assert_non_null(strstr(a, "invalid cursor"));

    mcp_principal_unref(px);
    mcp_principal_unref(py);
    mcp_principal_unref(pyx);
    mcp_principal_unref(pxy);
    mcp_principal_unref(pnone);
    mcp_server_free(srv);
}

/* ---- what invalidates ----------------------------------------------------------------------- */

static volatile int hide_y;          /* the test authorizer's outside input */
static uint64_t authz_gen = 7;

static bool
flag_authorizer(void *ctx, const mcp_principal *p, const char *kind, const char *name,
                const mcp_access *rule, mcp_authz_result *res)
{
    (void)ctx; (void)kind; (void)rule;
    res->allowed = p != NULL && !(hide_y && strcmp(name, "t_y") == 0);
    return res->allowed;
}

static bool
flag_generation(void *ctx, const mcp_principal *p, uint64_t *gen)
{
    (void)ctx; (void)p;
    *gen = authz_gen;
    return true;
}

static void
lists_follow_registration_list_changed_and_authorizers(void **state)
{
    (void)state;
    mcp_server *srv = new_server();
    mcp_principal *px = principal("x", X);
    /* registration: a new tool shows in the next list */
    assert_false(has(list(srv, px, "tools/list", 1, NULL), "t_new"));
    assert_false(has(list(srv, px, "tools/list", 1, NULL), "t_new"));    /* cached */
    add_tool(srv, "t_new", X, NULL, false);
    assert_true(has(list(srv, px, "tools/list", 1, NULL), "t_new"));

    /* an authorizer without a generation: decided for every request */
    mcp_server_set_authorizer(srv, flag_authorizer, NULL);
    hide_y = 0;
    assert_true(has(list(srv, px, "tools/list", 2, NULL), "t_y"));    /* a new authorizer */
    hide_y = 1;
    assert_false(has(list(srv, px, "tools/list", 2, NULL), "t_y"));
    uint64_t h0, m0, h, m;
    stats(srv, &h0, &m0);
    hide_y = 0;
    assert_true(has(list(srv, px, "tools/list", 2, NULL), "t_y"));
    stats(srv, &h, &m);
    assert_int_equal(h + m, h0 + m0);          /* not even looked up */

    /* with a generation: cached, so an outside change shows only once the server is told */
    mcp_server_set_authorizer_generation(srv, flag_generation);
    assert_true(has(list(srv, px, "tools/list", 3, NULL), "t_y"));
    hide_y = 1;
    assert_true(has(list(srv, px, "tools/list", 3, NULL), "t_y"));     /* the cached answer */
    mcp_server_notify_list_changed(srv, "tools");
    assert_false(has(list(srv, px, "tools/list", 3, NULL), "t_y"));
    hide_y = 0;
    assert_false(has(list(srv, px, "tools/list", 3, NULL), "t_y"));
    authz_gen = 8;                             /* the authorizer's own generation moved */
    assert_true(has(list(srv, px, "tools/list", 3, NULL), "t_y"));
    mcp_server_notify_list_changed(srv, "nonsense");   /* ignored, changes nothing */
    assert_true(has(list(srv, px, "tools/list", 3, NULL), "t_y"));

    /* setting the authorizer again drops its generation function: no caching */
    mcp_server_set_authorizer(srv, flag_authorizer, NULL);
    stats(srv, &h0, &m0);
    hide_y = 1;
    assert_false(has(list(srv, px, "tools/list", 4, NULL), "t_y"));
    stats(srv, &h, &m);
    assert_int_equal(h + m, h0 + m0);
    /* back to the registration rules: cached again, by permissions */
    mcp_server_set_authorizer(srv, NULL, NULL);
    assert_true(has(list(srv, px, "tools/list", 5, NULL), "t_x"));
    assert_false(has(list(srv, px, "tools/list", 5, NULL), "t_y"));
    stats(srv, &h, &m);
    assert_int_equal(h, h0 + 1);
    mcp_principal_unref(px);
    mcp_server_free(srv);
}

/* ---- RBAC policy reload ------------------------------------------------------------------ */

static void
write_file(const char *path, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void
lists_follow_rbac_policy_reload(void **state)
{
    (void)state;
    char dir[] = "/tmp/mcp-list-cache-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/policy.json", dir);
    write_file(path, "{\"tools\": {\"t_y\": {\"any_of\": [\"X\"]}}}");
    mcp_rbac_opts o;
    mcp_rbac_opts_default(&o);
    o.policy_path = path;
    mcp_rbac *r = NULL;
    mcp_error err;
    assert_int_equal(mcp_rbac_new(&o, &r, &err), MCP_OK);
    mcp_server *srv = new_server();
    assert_int_equal(mcp_rbac_attach(r, srv, &err), MCP_OK);
    mcp_principal *px = principal("x", X), *py = principal("y", Y);
    uint64_t h, m;

    assert_true(has(list(srv, px, "tools/list", 1, NULL), "t_y"));   /* the policy grants it */
    assert_true(has(list(srv, px, "tools/list", 1, NULL), "t_y"));
    assert_false(has(list(srv, py, "tools/list", 1, NULL), "t_y"));
    stats(srv, &h, &m);
    assert_int_equal(h, 1);                    /* the engine's lists are cached */
    assert_int_equal(m, 2);

    write_file(path, "{\"tools\": {\"t_y\": {\"deny\": true}, \"t_x\": {\"any_of\": [\"Y\"]}}}");
    assert_int_equal(mcp_rbac_reload(r, &err), MCP_OK);
    const char *a = list(srv, px, "tools/list", 2, NULL);
    assert_false(has(a, "t_y"));
    assert_false(has(a, "t_x"));
    a = list(srv, py, "tools/list", 2, NULL);
    assert_true(has(a, "t_x"));
    assert_false(has(a, "t_y"));
    assert_true(has(list(srv, py, "tools/list", 2, NULL), "t_x"));
    /* a failed reload keeps the policy and the lists */
    write_file(path, "{\"tools\": ");
    assert_int_equal(mcp_rbac_reload(r, &err), MCP_ERR_PARSE);
    assert_true(has(list(srv, py, "tools/list", 3, NULL), "t_x"));

    mcp_principal_unref(px);
    mcp_principal_unref(py);
    mcp_server_free(srv);
    mcp_rbac_free(r);
    unlink(path);
    rmdir(dir);
}

/* ---- 2026-07-28 ---------------------------------------------------------------------------- */

#define LIST26 "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":{\"_meta\":{" \
               "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
               "\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

static void
modern_and_legacy_lists_are_kept_apart(void **state)
{
    (void)state;
    mcp_server *srv = new_server();
    mcp_principal *px = principal("x", X);
    const char *a = list(srv, px, "tools/list", 4, NULL);
    assert_null(strstr(a, "resultType"));
    run(srv, px, true, LIST26, "tools/list");
    assert_non_null(strstr(cap.last, "\"resultType\":\"complete\""));
    assert_non_null(strstr(cap.last, "serverInfo"));
    assert_true(has(cap.last, "t_x"));
    char first[8192];
    snprintf(first, sizeof first, "%s", cap.last);
    run(srv, px, true, LIST26, "tools/list");
    assert_string_equal(cap.last, first);
    a = list(srv, px, "tools/list", 4, NULL);
    assert_null(strstr(a, "resultType"));
    uint64_t h, m;
    stats(srv, &h, &m);
    assert_int_equal(m, 2);
    assert_int_equal(h, 2);
    mcp_principal_unref(px);
    mcp_server_free(srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_are_cached_per_permission_set),
        cmocka_unit_test(lists_follow_registration_list_changed_and_authorizers),
        cmocka_unit_test(lists_follow_rbac_policy_reload),
        cmocka_unit_test(modern_and_legacy_lists_are_kept_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
