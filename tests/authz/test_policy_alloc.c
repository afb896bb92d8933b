/*
 * The authorization hot path allocates nothing once warm (STYLE.md section 9): the AUTHZ item
 * (store look-up hit, effective-principal cache hit, policy pin, rate-limit buckets that exist)
 * and the authorizer, counted with a replaced allocator. Also prints the time per request of
 * the item, for the record (not asserted: the machine is shared).
 */
#include "store/test_store_util.h"

#include <jansson.h>
#include <mcp/policy.h>
#include <stdatomic.h>

#include "server/server.h"

static atomic_long n_alloc;
static atomic_bool counting;

static void *
count_malloc(size_t n)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&n_alloc, 1);
    return malloc(n);
}

static void *
count_realloc(void *p, size_t n)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&n_alloc, 1);
    return realloc(p, n);
}

static void
count_free(void *p)
{
    free(p);
}

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static mcp_principal *
jwt_principal(const char *sub, const char *perm)
{
    mcp_principal_fields pf = { .kind = MCP_CRED_JWT, .subject = sub, .jti = "j" };
    mcp_principal *p = NULL;
    assert_int_equal(mcp_principal_new(&pf, &p, NULL), MCP_OK);
    if (perm != NULL)
        assert_int_equal(mcp_principal_add_permission(p, perm, NULL), MCP_OK);
    return p;
}

/* One request through the item and the call check; returns false on any refusal. */
static bool
one_request(mcp_rbac *r, mcp_request *req, const mcp_principal *p, const mcp_access *rule)
{
    mcp_request_set_principal(req, p);
    mcp_error err;
    if (mcp_rbac_authz(req, r, &err) != MCP_OK)
        return false;
    mcp_authz_result res;
    return mcp_rbac_authorize(r, mcp_request_principal(req), "tool", "list_products", rule, &res);
}

static void
rbac_hot_path_allocates_nothing(void **state)
{
    (void)state;
    tdir t;
    tdir_make(&t);
    char policy[192];
    snprintf(policy, sizeof policy, "%s/policy.json", t.dir);
    FILE *f = fopen(policy, "w");
    assert_non_null(f);
    fputs("{\"tools\": {\"list_products\": {\"any_of\": [\"User.Read\", \"Guest.Read\"]}},"
          " \"rate_limits\": {\"per_principal\": {\"rate\": 1000000, \"burst\": 1000000},"
          " \"per_tool\": {\"*\": {\"rate\": 1000000, \"burst\": 1000000}}}}", f);
    fclose(f);

    mcp_store *st = open_store(t.db, 1000);
    assert_int_equal(mcp_store_user_add_with_roles(st, "uma", NULL,
                                                   (const char *[]){ "user", NULL }, NULL),
                     MCP_OK);
    mcp_server *srv = NULL;
    assert_int_equal(mcp_server_new(NULL, &srv, NULL), MCP_OK);
    mcp_rbac_opts o;
    mcp_rbac_opts_default(&o);
    o.store = st;
    o.policy_path = policy;
    mcp_rbac *with_store = NULL, *without = NULL;
    assert_int_equal(mcp_rbac_new(&o, &with_store, NULL), MCP_OK);
    o.store = NULL;
    assert_int_equal(mcp_rbac_new(&o, &without, NULL), MCP_OK);

    /* a JWT with no permissions of its own: everything comes from the role */
    mcp_principal *uma = jwt_principal("uma", NULL);
    /* the same caller with the permission in its token (no store) */
    mcp_principal *uma_tok = jwt_principal("uma", "User.Read");
    static const char *const any[] = { "User.Read", "Guest.Read", NULL };
    mcp_access rule = { .any_of_perms = any };

    json_t *root = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1, "method", "tools/call");
    mcp_request req;
    mcp__request_init(&req, srv);
    req.http_method = "POST";
    req.peer = "127.0.0.1";
    req.msg.kind = MCP__RPC_REQUEST;
    req.msg.method = json_string_value(json_object_get(root, "method"));
    req.msg.id = json_object_get(root, "id");
    req.target = "list_products";

    /* warm: store cache, effective-principal cache, buckets */
    for (int i = 0; i < 3; i++) {
        assert_true(one_request(with_store, &req, uma, &rule));
        assert_true(one_request(without, &req, uma_tok, &rule));
    }
    const int n = 20000;
    atomic_store(&n_alloc, 0);
    atomic_store(&counting, true);
    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        assert_true(one_request(with_store, &req, uma, &rule));
    double t1 = now_ns();
    for (int i = 0; i < n; i++)
        assert_true(one_request(without, &req, uma_tok, &rule));
    double t2 = now_ns();
    atomic_store(&counting, false);
    long allocs = atomic_load(&n_alloc);
    print_message("authz item + call check: %.0f ns/request with the store, %.0f ns without\n",
                  (t1 - t0) / n, (t2 - t1) / n);
    assert_int_equal(allocs, 0);

    mcp__request_cleanup(&req);
    json_decref(root);
    mcp_principal_unref(uma);
    mcp_principal_unref(uma_tok);
    mcp_rbac_free(with_store);
    mcp_rbac_free(without);
    mcp_server_free(srv);
    mcp_store_close(st);
    unlink(policy);
    tdir_remove(&t);
}

int
main(void)
{
    /* before any libmcp object exists */
    if (mcp_replace_allocator(count_malloc, count_realloc, count_free) != MCP_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rbac_hot_path_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
