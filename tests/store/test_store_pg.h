/* A PostgreSQL 15 cluster for the store tests (tests/store/test_store*.c): started with
 * tests/integration/lib/pg_cluster.sh in a temporary directory on 127.0.0.1:PORT (as the postgres
 * user when we are root), stopped at exit. Header-only; include after test_store_util.h. */
#ifndef MCP_TEST_STORE_PG_H
#define MCP_TEST_STORE_PG_H

#include <libpq-fe.h>

static const char *g_pg_port = "0";
static char g_pg_dir[64];
static char g_pg_url[512];
static bool g_pg_up;

TEST_UNUSED static int
run_cluster(const char *cmd, char *out, size_t cap)
{
    const char *src = getenv("MCP_SRC");
    char script[512];
    snprintf(script, sizeof script, "%s/tests/integration/lib/pg_cluster.sh",
             src != NULL ? src : "..");
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/bash", "bash", script, cmd, g_pg_dir, g_pg_port, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    char sink[64];
    while (out != NULL && n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    while (read(fds[0], sink, sizeof sink) > 0)
        ;
    close(fds[0]);
    if (out != NULL) {
        out[n] = '\0';
        out[strcspn(out, "\n")] = '\0';
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_UNUSED static void
cluster_stop_at_exit(void)
{
    if (g_pg_up) {
        run_cluster("stop", NULL, 0);
        g_pg_up = false;
    }
    if (g_pg_dir[0] != '\0') {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_pg_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_pg_dir);
    }
}

/* Raw SQL through another client (as psql or another process would). */
TEST_UNUSED static void
pg_raw(const char *sql)
{
    PGconn *c = PQconnectdb(g_pg_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fprintf(stderr, "pg_raw: %s\n", PQerrorMessage(c));
    assert_true(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
}

/* Start the cluster on port (once per process). 0: up; 1: not available (the caller skips);
 * -1: not available under MCP_CI=1 (a failure). */
TEST_UNUSED static int
pg_cluster_start(const char *port)
{
    g_pg_port = port;
    snprintf(g_pg_dir, sizeof g_pg_dir, "/tmp/mcp-pg-test-XXXXXX");
    if (mkdtemp(g_pg_dir) == NULL) {
        g_pg_dir[0] = '\0';
        return -1;
    }
    atexit(cluster_stop_at_exit);
    const char *ci = getenv("MCP_CI");
    bool strict = ci != NULL && strcmp(ci, "1") == 0;
    if (run_cluster("start", g_pg_url, sizeof g_pg_url) != 0 || g_pg_url[0] == '\0') {
        fprintf(stderr, "%s\n", strict ? "FAIL: PostgreSQL 15 is needed (MCP_CI=1)"
                                        : "SKIP: the PostgreSQL half (no cluster could start)");
        return strict ? -1 : 1;
    }
    g_pg_up = true;
    return 0;
}

/* An empty store database: the public schema dropped and made again. */
TEST_UNUSED static void
pg_reset_schema(void)
{
    pg_raw("SET client_min_messages = warning; DROP SCHEMA public CASCADE;"
           " CREATE SCHEMA public;");
}

#endif
