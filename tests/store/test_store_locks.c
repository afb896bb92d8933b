/*
 * Lock waits are bounded on the lookup path (src/store/store_vfs.c): another process holding
 * the store's WAL locks makes a lookup fail with MCP_ERR_STORE (the server's 503) within
 * read_timeout_ms, not after SQLite's read-lock retry (about 10 s) or the busy timeout; writes
 * keep busy_timeout_ms; the store is served again once the lock is gone.
 *
 * The lock holder is a forked child, as it must be: POSIX record locks of one process do not
 * conflict with each other.
 */
#include "test_store_util.h"

#include <fcntl.h>
#include <signal.h>

/* Bytes of the -shm file SQLite locks in WAL mode: 120 write, 121 checkpoint, 122 recover,
 * 123..127 the five read marks (every read transaction holds one of them shared). */
#define SHM_READ_MARKS 123, 5
#define SHM_WRITE_LOCK 120, 1

typedef struct holder {
    pid_t pid;
    int   release_fd; /* closing it ends the child */
} holder;

/* Fork a child that takes an exclusive lock on len bytes at off of file, tells us, and holds
 * it until release_fd is closed. */
static void
hold_lock(const char *file, off_t off, off_t len, holder *h)
{
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        int fd = open(file, O_RDWR);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off,
                            .l_len = len };
        char ok = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        char c;
        while (read(release[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    assert_int_equal(ok, 'y');
    h->pid = pid;
    h->release_fd = release[1];
}

static void
release_lock(holder *h)
{
    close(h->release_fd);
    int status = 0;
    assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static mcp_store *
open_with(const char *db, unsigned check_ms, unsigned read_ms, unsigned busy_ms)
{
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.change_check_ms = check_ms;
    o.read_timeout_ms = read_ms;
    o.busy_timeout_ms = busy_ms;
    o.cache_max = 0; /* every lookup reads the file */
    mcp_store *s = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_open(db, &o, &s, &err), MCP_OK);
    return s;
}

/* A lookup of alice: its status, and how long it took in *ms. */
static mcp_status
lookup(mcp_store *s, uint64_t *ms, mcp_error *err)
{
    mcp_store_user_info info;
    mcp_store_user_info_init(&info);
    mcp_error_clear(err);
    uint64_t t0 = mono_ms();
    mcp_status rc = mcp_store_user_lookup(s, "alice", &info, err);
    *ms = mono_ms() - t0;
    if (rc == MCP_OK)
        assert_true(info.exists);
    mcp_store_user_info_cleanup(&info);
    return rc;
}

static bool
count_user(void *ctx, const mcp_store_user *u)
{
    (void)u;
    (*(int *)ctx)++;
    return true;
}

static void
shm_path(const tdir *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-shm", t->db);
}

static void
store_defaults_bound_reads(void **state)
{
    (void)state;
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    assert_int_equal(o.read_timeout_ms, 500);
    assert_int_equal(o.busy_timeout_ms, 5000);
}

/* The change check (the watch connection, first on every lookup with change_check_ms 0) meets
 * the held read marks: 503 within the default bound, not SQLite's ~10 s retry. */
static void
store_lookup_bounded_when_read_locks_held(void **state)
{
    tdir *t = *state;
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.change_check_ms = 0;
    o.cache_max = 0;
    mcp_store *s = NULL;
    mcp_error err;
    assert_int_equal(mcp_store_open(t->db, &o, &s, &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
    uint64_t ms = 0;
    assert_int_equal(lookup(s, &ms, &err), MCP_OK);

    char shm[160];
    shm_path(t, shm, sizeof shm);
    holder h;
    hold_lock(shm, SHM_READ_MARKS, &h);
    mcp_status rc = lookup(s, &ms, &err);
    fprintf(stderr, "read marks held, change check: %s in %llu ms (%s)\n", mcp_status_name(rc),
            (unsigned long long)ms, err.message);
    assert_int_equal(rc, MCP_ERR_STORE);
    assert_true(ms < 2000);
    assert_non_null(strstr(err.message, "locking protocol"));
    release_lock(&h);
    /* served again (the failing store rechecks at most every change_check_ms: 0 here) */
    assert_int_equal(lookup(s, &ms, &err), MCP_OK);
    mcp_store_close(s);
}

/* With a long change-check interval the lookup's own read (a pool connection) meets the lock:
 * bounded as well; a second lookup right after is bounded again, not queued. */
static void
store_reader_bounded_when_read_locks_held(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_with(t->db, 60000, 300, 5000);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
    char shm[160];
    shm_path(t, shm, sizeof shm);
    holder h;
    hold_lock(shm, SHM_READ_MARKS, &h);
    for (int i = 0; i < 2; i++) {
        uint64_t ms = 0;
        mcp_status rc = lookup(s, &ms, &err);
        fprintf(stderr, "read marks held, lookup %d: %s in %llu ms (%s)\n", i,
                mcp_status_name(rc), (unsigned long long)ms, err.message);
        assert_int_equal(rc, MCP_ERR_STORE);
        assert_true(ms < 2000);
    }
    /* a list (mcp-admin's kind of read) is bounded the same way */
    uint64_t t0 = mono_ms();
    int n = 0;
    assert_int_equal(mcp_store_user_list(s, count_user, &n, &err), MCP_ERR_STORE);
    assert_int_equal(n, 0);
    assert_true(mono_ms() - t0 < 2000);
    release_lock(&h);
    uint64_t ms = 0;
    assert_int_equal(lookup(s, &ms, &err), MCP_OK);
    mcp_store_close(s);
}

/* The bound is read_timeout_ms (here longer than the default), and 0 means busy_timeout_ms: the
 * lookup waits about that long before it gives up. */
static void
store_read_timeout_is_configurable(void **state)
{
    tdir *t = *state;
    char shm[160];
    shm_path(t, shm, sizeof shm);
    static const struct { unsigned read_ms, busy_ms, want_ms; } rows[] = {
        { 1200, 5000, 1200 },
        { 0, 900, 900 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mcp_store *s = open_with(t->db, 0, rows[i].read_ms, rows[i].busy_ms);
        mcp_error err;
        if (i == 0)
            assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
        holder h;
        hold_lock(shm, SHM_READ_MARKS, &h);
        uint64_t ms = 0;
        mcp_status rc = lookup(s, &ms, &err);
        fprintf(stderr, "read %u ms, busy %u ms: %s in %llu ms\n", rows[i].read_ms,
                rows[i].busy_ms, mcp_status_name(rc), (unsigned long long)ms);
        assert_int_equal(rc, MCP_ERR_STORE);
        assert_true(ms + 100 >= rows[i].want_ms);
        assert_true(ms < rows[i].want_ms + 3000);
        release_lock(&h);
        mcp_store_close(s);
    }
}

/* A writer holding the WAL write lock: reads go on at once (WAL), and a write through the store
 * waits busy_timeout_ms, not the short read bound, before "database is locked". */
static void
store_write_keeps_busy_timeout(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_with(t->db, 0, 100, 1500);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
    char shm[160];
    shm_path(t, shm, sizeof shm);
    holder h;
    hold_lock(shm, SHM_WRITE_LOCK, &h);
    uint64_t ms = 0;
    assert_int_equal(lookup(s, &ms, &err), MCP_OK);
    assert_true(ms < 1000);
    uint64_t t0 = mono_ms();
    mcp_error_clear(&err);
    mcp_status rc = mcp_store_user_add(s, "bob", NULL, &err);
    ms = mono_ms() - t0;
    fprintf(stderr, "write lock held, write: %s in %llu ms (%s)\n", mcp_status_name(rc),
            (unsigned long long)ms, err.message);
    assert_int_equal(rc, MCP_ERR_STORE);
    assert_non_null(strstr(err.message, "locked"));
    assert_true(ms >= 1300 && ms < 5000);
    release_lock(&h);
    assert_int_equal(mcp_store_user_add(s, "bob", NULL, &err), MCP_OK);
    mcp_store_close(s);
}

/* Another process's SQLite connection in BEGIN EXCLUSIVE (the sqlite3 shell, as an operator
 * would run it): in WAL mode that is the write lock, so lookups go on at once and a write
 * through the store waits busy_timeout_ms, then says "database is locked". */
static void
store_sqlite_exclusive_writer(void **state)
{
    tdir *t = *state;
    if (access("/usr/bin/sqlite3", X_OK) != 0) {
        fprintf(stderr, "the sqlite3 shell is not installed: skipped\n");
        if (getenv("MCP_CI") != NULL)
            fail_msg("MCP_CI is set: the sqlite3 shell is required (scripts/deps.sh)");
        skip();
    }
    mcp_store *s = open_with(t->db, 0, 300, 1200);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/sqlite3", "sqlite3", t->db, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    static const char sql[] = "BEGIN EXCLUSIVE;\nINSERT INTO roles(name) VALUES ('held');\n"
                              "SELECT 'locked';\n";
    assert_int_equal(write(in[1], sql, sizeof sql - 1), (ssize_t)(sizeof sql - 1));
    char buf[16] = "";
    assert_true(read(out[0], buf, sizeof buf - 1) > 0);
    assert_non_null(strstr(buf, "locked"));
    uint64_t ms = 0;
    assert_int_equal(lookup(s, &ms, &err), MCP_OK);
    assert_true(ms < 1000);
    uint64_t t0 = mono_ms();
    mcp_error_clear(&err);
    mcp_status rc = mcp_store_user_add(s, "bob", NULL, &err);
    ms = mono_ms() - t0;
    fprintf(stderr, "sqlite3 BEGIN EXCLUSIVE, write: %s in %llu ms (%s)\n", mcp_status_name(rc),
            (unsigned long long)ms, err.message);
    assert_int_equal(rc, MCP_ERR_STORE);
    assert_non_null(strstr(err.message, "locked"));
    assert_true(ms + 100 >= 1200 && ms < 5000);
    close(in[1]); /* end of input: the shell exits, its transaction rolled back */
    close(out[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(mcp_store_user_add(s, "bob", NULL, &err), MCP_OK);
    mcp_store_close(s);
}

/* With the read marks held, a write and an open (both read the file) give up after
 * busy_timeout_ms in all, not after SQLite's ~10 s read retry: mcp-admin says why in seconds. */
static void
store_write_and_open_bounded_when_read_locks_held(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_with(t->db, 60000, 200, 1000);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
    char shm[160];
    shm_path(t, shm, sizeof shm);
    holder h;
    hold_lock(shm, SHM_READ_MARKS, &h);
    uint64_t t0 = mono_ms();
    mcp_error_clear(&err);
    mcp_status rc = mcp_store_user_add(s, "bob", NULL, &err);
    uint64_t ms = mono_ms() - t0;
    fprintf(stderr, "read marks held, write: %s in %llu ms (%s)\n", mcp_status_name(rc),
            (unsigned long long)ms, err.message);
    assert_int_equal(rc, MCP_ERR_STORE);
    assert_true(ms + 100 >= 1000 && ms < 4000);

    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.busy_timeout_ms = 1000;
    mcp_store *s2 = NULL;
    t0 = mono_ms();
    rc = mcp_store_open(t->db, &o, &s2, &err);
    ms = mono_ms() - t0;
    fprintf(stderr, "read marks held, open: %s in %llu ms (%s)\n", mcp_status_name(rc),
            (unsigned long long)ms, err.message);
    assert_int_equal(rc, MCP_ERR_STORE);
    assert_null(s2);
    assert_true(ms < 4000);
    release_lock(&h);
    assert_int_equal(mcp_store_user_add(s, "bob", NULL, &err), MCP_OK);
    mcp_store_close(s);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_defaults_bound_reads),
        cmocka_unit_test_setup_teardown(store_lookup_bounded_when_read_locks_held, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_reader_bounded_when_read_locks_held, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_read_timeout_is_configurable, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_write_keeps_busy_timeout, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_sqlite_exclusive_writer, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_write_and_open_bounded_when_read_locks_held,
                                        tdir_setup, tdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
