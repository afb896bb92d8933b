/* Direct unit tests for src/authz/rbac_sighup.c and the reload it drives: a real policy file,
 * real SIGHUPs (raise), a good file swapped in atomically (rename), a bad file keeping the old
 * policy, the watcher limit and the restored signal disposition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mcp/policy.h>

#include "authz/internal.h"

static char dir[64], path[128];

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Write a file next to path and rename it over path: the way an operator (or a config
 * manager) replaces a file atomically. */
static void
swap_in(const char *text)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mcp-sighup-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/policy.json", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static _Atomic int calls_a, calls_b;

static void
count_a(void *ctx)
{
    (void)ctx;
    calls_a++;
}

static void
count_b(void *ctx)
{
    (void)ctx;
    calls_b++;
}

/* Raise SIGHUP and wait (bounded) until the counter moves past before. */
static bool
hup_and_wait(_Atomic int *counter)
{
    int before = *counter;
    raise(SIGHUP);
    for (int i = 0; i < 500 && *counter == before; i++)
        sleep_ms(10);
    return *counter > before;
}

static void
raw_register_calls_every_watcher(void **state)
{
    (void)state;
    mcp_error err;
    int ctx_a, ctx_b;
    calls_a = calls_b = 0;
    assert_int_equal(mcp__sighup_register(count_a, &ctx_a, &err), MCP_OK);
    assert_int_equal(mcp__sighup_register(count_b, &ctx_b, &err), MCP_OK);
    assert_true(hup_and_wait(&calls_b));
    assert_int_equal(calls_a, 1);
    mcp__sighup_unregister(&ctx_a);
    assert_true(hup_and_wait(&calls_b));
    assert_int_equal(calls_a, 1); /* unregistered: not called again */
    assert_int_equal(calls_b, 2);
    mcp__sighup_unregister(&ctx_b);
    mcp__sighup_unregister(&ctx_b); /* unknown ctx: harmless */
}

static void
raw_register_limit_and_restored_disposition(void **state)
{
    (void)state;
    mcp_error err;
    struct sigaction ign, cur;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    assert_int_equal(sigaction(SIGHUP, &ign, NULL), 0);

    int ctx[9];
    for (int i = 0; i < 8; i++)
        assert_int_equal(mcp__sighup_register(count_a, &ctx[i], &err), MCP_OK);
    /* While watched, SIGHUP is ours (not ignored). */
    assert_int_equal(sigaction(SIGHUP, NULL, &cur), 0);
    assert_true(cur.sa_handler != SIG_IGN && cur.sa_handler != SIG_DFL);
    mcp_error_clear(&err);
    assert_int_equal(mcp__sighup_register(count_a, &ctx[8], &err), MCP_ERR_TOO_LARGE);
    assert_string_equal(err.message, "too many SIGHUP watchers");
    for (int i = 0; i < 8; i++)
        mcp__sighup_unregister(&ctx[i]);
    /* The last one gone: the previous disposition is back. */
    assert_int_equal(sigaction(SIGHUP, NULL, &cur), 0);
    assert_true(cur.sa_handler == SIG_IGN);
    raise(SIGHUP); /* ignored: must not kill the test */

    /* And a new registration after a full stop works again. */
    calls_a = 0;
    assert_int_equal(mcp__sighup_register(count_a, &ctx[0], &err), MCP_OK);
    assert_true(hup_and_wait(&calls_a));
    mcp__sighup_unregister(&ctx[0]);
    signal(SIGHUP, SIG_DFL);
}

static mcp_principal *
with_perm(const char *perm)
{
    mcp_principal_fields f = {.kind = MCP_CRED_JWT, .subject = "u"};
    mcp_principal *p = NULL;
    mcp_error err;
    assert_int_equal(mcp_principal_new(&f, &p, &err), MCP_OK);
    assert_int_equal(mcp_principal_add_permission(p, perm, &err), MCP_OK);
    return p;
}

static bool
allowed(mcp_rbac *r, const mcp_principal *p, mcp_policy_result *res)
{
    mcp_policy *pol = mcp_rbac_policy(r);
    bool ok = mcp_policy_evaluate(pol, p, "tool", "t", NULL, res);
    mcp_policy_unref(pol);
    return ok;
}

static void
rbac_reload_on_sighup_good_then_bad(void **state)
{
    (void)state;
    swap_in("{\"tools\": {\"t\": {\"any_of\": [\"A\"]}}}\n");
    mcp_rbac_opts o;
    mcp_rbac_opts_default(&o);
    o.policy_path = path;
    mcp_rbac *r = NULL;
    mcp_error err;
    assert_int_equal(mcp_rbac_new(&o, &r, &err), MCP_OK);
    assert_int_equal(mcp_rbac_generation(r), 1);
    assert_int_equal(mcp_rbac_watch_sighup(r, &err), MCP_OK);
    mcp_error_clear(&err);
    assert_int_equal(mcp_rbac_watch_sighup(r, &err), MCP_ERR_STATE);
    assert_string_equal(err.message, "already watching SIGHUP");
    /* A counter registered after the engine: when it moves, the engine's reload (same
     * watcher thread, called first) has finished. */
    int marker;
    calls_a = 0;
    assert_int_equal(mcp__sighup_register(count_a, &marker, &err), MCP_OK);

    mcp_principal *pa = with_perm("A"), *pb = with_perm("B");
    mcp_policy_result res;
    assert_true(allowed(r, pa, &res));
    assert_false(allowed(r, pb, &res));

    /* A good file swapped in: after SIGHUP, B may and A may not. */
    swap_in("{\"tools\": {\"t\": {\"any_of\": [\"B\"]}}}\n");
    assert_true(hup_and_wait(&calls_a));
    assert_int_equal(mcp_rbac_generation(r), 2);
    assert_false(allowed(r, pa, &res));
    assert_string_equal(res.required, "any of: B");
    assert_string_equal(res.missing, "B");
    assert_true(allowed(r, pb, &res));

    /* A bad file: the policy in force stays, the generation does not move. */
    swap_in("{\"tools\": {\"t\": {\"any_of\": [\"C\"]}}, \"typo\": 1}\n");
    assert_true(hup_and_wait(&calls_a));
    assert_int_equal(mcp_rbac_generation(r), 2);
    assert_true(allowed(r, pb, &res));
    swap_in("{\"tools\": ");
    assert_true(hup_and_wait(&calls_a));
    assert_int_equal(mcp_rbac_generation(r), 2);
    assert_true(allowed(r, pb, &res));
    /* The same through the entry point: the load error is returned, naming the file. */
    mcp_error_clear(&err);
    assert_int_equal(mcp_rbac_reload(r, &err), MCP_ERR_PARSE);
    char want[300];
    snprintf(want, sizeof want, "%s: line 1 column 10: unexpected token near end of file", path);
    assert_string_equal(err.message, want);
    assert_int_equal(mcp_rbac_generation(r), 2);
    /* A missing file is an IO error, same outcome. */
    assert_int_equal(unlink(path), 0);
    mcp_error_clear(&err);
    assert_int_equal(mcp_rbac_reload(r, &err), MCP_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err.message, want);
    assert_true(allowed(r, pb, &res));

    /* Fixed again: the next SIGHUP takes it. */
    swap_in("{\"tools\": {\"t\": {\"any_of\": [\"A\"]}}}\n");
    assert_true(hup_and_wait(&calls_a));
    assert_int_equal(mcp_rbac_generation(r), 3);
    assert_true(allowed(r, pa, &res));

    mcp__sighup_unregister(&marker);
    mcp_rbac_free(r); /* stops the watch */
    mcp_principal_unref(pa);
    mcp_principal_unref(pb);
    signal(SIGHUP, SIG_IGN);
    raise(SIGHUP);
    signal(SIGHUP, SIG_DFL);
}

static void
rbac_reload_without_file(void **state)
{
    (void)state;
    mcp_rbac_opts o;
    mcp_rbac_opts_default(&o);
    mcp_rbac *r = NULL;
    mcp_error err;
    assert_int_equal(mcp_rbac_new(&o, &r, &err), MCP_OK);
    mcp_error_clear(&err);
    assert_int_equal(mcp_rbac_reload(r, &err), MCP_ERR_STATE);
    assert_string_equal(err.message, "no policy file configured");
    assert_int_equal(mcp_rbac_generation(r), 1);
    assert_int_equal(mcp_rbac_reload(NULL, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "no engine");
    mcp_rbac_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(raw_register_calls_every_watcher),
        cmocka_unit_test(raw_register_limit_and_restored_disposition),
        cmocka_unit_test_setup_teardown(rbac_reload_on_sighup_good_then_bad, setup, teardown),
        cmocka_unit_test(rbac_reload_without_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
