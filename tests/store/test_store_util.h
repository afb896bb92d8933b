/* Helpers shared by tests/store/test_store*.c, tests/authn/test_apikey*.c and
 * tests/authz/test_policy_*.c: a temporary directory holding a real store file, raw SQL on
 * that file (another connection, as another process would), and running the built mcp-admin
 * binary ($MCP_BIN). Header-only; each test includes it once. */
#ifndef MCP_TEST_STORE_UTIL_H
#define MCP_TEST_STORE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/store.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Not every test uses every helper. */
#if defined(__GNUC__) || defined(__clang__)
#define TEST_UNUSED __attribute__((unused))
#else
#define TEST_UNUSED
#endif

typedef struct tdir {
    char dir[64];
    char db[128];
} tdir;

TEST_UNUSED static void
tdir_make(tdir *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/mcp-store-test-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->db, sizeof t->db, "%s/mcp.db", t->dir);
}

TEST_UNUSED static void
tdir_remove(tdir *t)
{
    static const char *const suffix[] = { "", "-wal", "-shm", "-journal", ".moved" };
    char p[160];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", t->db, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

/* cmocka fixtures: *state is a fresh tdir (a temporary directory for the store file), removed
 * again after the test. */
TEST_UNUSED static int
tdir_setup(void **state)
{
    tdir *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    tdir_make(t);
    *state = t;
    return 0;
}

TEST_UNUSED static int
tdir_teardown(void **state)
{
    tdir *t = *state;
    tdir_remove(t);
    free(t);
    return 0;
}

/* Run SQL on the file through a plain sqlite3 connection (foreign keys off, like a careless
 * operator's sqlite3 shell). Fails the test on error. */
TEST_UNUSED static void
raw_sql(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "raw_sql: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(h);
}

/* An integer from a one-value query. */
TEST_UNUSED static int64_t
raw_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

TEST_UNUSED static mcp_store *
open_store(const char *db, unsigned check_ms)
{
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.change_check_ms = check_ms;
    mcp_store *s = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status rc = mcp_store_open(db, &o, &s, &err);
    if (rc != MCP_OK)
        fprintf(stderr, "open_store: %s\n", err.message);
    assert_int_equal(rc, MCP_OK);
    assert_non_null(s);
    return s;
}

/* MCP_CI=1 (scripts/test.sh, CI): an environment a test needs and does not find is a failure,
 * not a skip. */
TEST_UNUSED static bool
ci_strict(void)
{
    const char *ci = getenv("MCP_CI");
    return ci != NULL && strcmp(ci, "1") == 0;
}

/* Path of a built CLI, or NULL when $MCP_BIN is not set (the test then skips, except under
 * MCP_CI=1, see ci_strict). */
TEST_UNUSED static const char *
bin_path(const char *name, char *buf, size_t cap)
{
    const char *bin = getenv("MCP_BIN");
    if (bin == NULL || bin[0] == '\0')
        return NULL;
    snprintf(buf, cap, "%s/%s", bin, name);
    return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Run mcp-admin --db db ARGS... (NULL-terminated) and return its exit status. */
TEST_UNUSED static int
run_admin(const char *db, ...)
{
    char path[512];
    if (bin_path("mcp-admin", path, sizeof path) == NULL)
        return -1;
    char *argv[16];
    int n = 0;
    argv[n++] = path;
    argv[n++] = (char *)"--db";
    argv[n++] = (char *)db;
    va_list ap;
    va_start(ap, db);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 15)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(path, argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_UNUSED static void
sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

#endif
