/*
 * A bound on how long a store lookup waits for a lock another connection holds.
 *
 * SQLite waits in two places: the busy handler (sqlite3_busy_timeout) when a lock on the database
 * file is taken, and, in WAL mode, the read-lock retry of a read transaction: when every WAL
 * read-mark lock is held (a stuck or hostile process), it retries 100 times with growing sleeps,
 * about 10 s in all, before it reports SQLITE_PROTOCOL ("locking protocol"), whatever the busy
 * timeout. Both sleep through the connection's VFS, so the store opens its connections with
 * this VFS: the default one with xSleep bounded by a deadline of the calling thread. A lookup
 * sets the deadline (mcp__store_wait_begin) for as long as it holds a connection; past it a
 * sleep returns at once, SQLite's retry loop runs out within microseconds and the lookup fails
 * with the lock's error (MCP_ERR_STORE: 503), instead of holding an HTTP IO thread for 10 s.
 * Without a deadline (the writer, the open) a sleep is the default VFS's.
 *
 * Every other method is the default VFS's, called with that VFS: files opened here are its files.
 */
#include "store/internal.h"

#include <pthread.h>
#include <time.h>

static sqlite3_vfs      *base;
static sqlite3_vfs       bounded;
static int               init_rc = SQLITE_ERROR;
static pthread_once_t    once = PTHREAD_ONCE_INIT;
static _Thread_local uint64_t deadline_us; /* CLOCK_MONOTONIC; 0 = none */

#define VFS_NAME "mcp-bounded-wait"

static uint64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
mcp__store_wait_begin(unsigned ms)
{
    uint64_t prev = deadline_us;
    uint64_t d = now_us() + (uint64_t)ms * 1000u;
    if (d == 0)
        d = 1;
    if (prev != 0 && prev < d) /* nested: the outer, earlier deadline holds */
        d = prev;
    deadline_us = d;
    return prev;
}

void
mcp__store_wait_end(uint64_t prev)
{
    deadline_us = prev;
}

static int
v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    uint64_t d = deadline_us;
    if (d != 0 && us > 0) {
        uint64_t now = now_us();
        if (now >= d)
            return 0; /* past the bound: SQLite's retry loop ends without waiting */
        if ((uint64_t)us > d - now)
            us = (int)(d - now);
    }
    return base->xSleep(base, us);
}

static int
v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)v;
    return base->xOpen(base, name, f, flags, out);
}

static int
v_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return base->xDelete(base, name, sync);
}

static int
v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base->xAccess(base, name, flags, out);
}

static int
v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base->xFullPathname(base, name, n, out);
}

static void *
v_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base->xDlOpen(base, name);
}

static void
v_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    base->xDlError(base, n, out);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return base->xDlSym(base, h, sym);
}

static void
v_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    base->xDlClose(base, h);
}

static int
v_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base->xRandomness(base, n, out);
}

static int
v_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return base->xCurrentTime(base, out);
}

static int
v_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base->xGetLastError != NULL ? base->xGetLastError(base, n, out) : 0;
}

static int
v_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return base->xCurrentTimeInt64(base, out);
}

static int
v_set_syscall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
    (void)v;
    return base->xSetSystemCall(base, name, p);
}

static sqlite3_syscall_ptr
v_get_syscall(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base->xGetSystemCall(base, name);
}

static const char *
v_next_syscall(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base->xNextSystemCall(base, name);
}

static void
register_vfs(void)
{
    if (sqlite3_initialize() != SQLITE_OK)
        return;
    base = sqlite3_vfs_find(NULL);
    if (base == NULL || base->xSleep == NULL)
        return;
    bounded.iVersion = base->iVersion < 3 ? base->iVersion : 3;
    bounded.szOsFile = base->szOsFile;
    bounded.mxPathname = base->mxPathname;
    bounded.zName = VFS_NAME;
    bounded.xOpen = v_open;
    bounded.xDelete = v_delete;
    bounded.xAccess = v_access;
    bounded.xFullPathname = v_full_pathname;
    bounded.xDlOpen = base->xDlOpen != NULL ? v_dlopen : NULL;
    bounded.xDlError = base->xDlError != NULL ? v_dlerror : NULL;
    bounded.xDlSym = base->xDlSym != NULL ? v_dlsym : NULL;
    bounded.xDlClose = base->xDlClose != NULL ? v_dlclose : NULL;
    bounded.xRandomness = v_randomness;
    bounded.xSleep = v_sleep;
    bounded.xCurrentTime = v_current_time;
    bounded.xGetLastError = v_last_error;
    if (bounded.iVersion >= 2)
        bounded.xCurrentTimeInt64 = base->xCurrentTimeInt64 != NULL ? v_current_time64 : NULL;
    if (bounded.iVersion >= 3) {
        bounded.xSetSystemCall = base->xSetSystemCall != NULL ? v_set_syscall : NULL;
        bounded.xGetSystemCall = base->xGetSystemCall != NULL ? v_get_syscall : NULL;
        bounded.xNextSystemCall = base->xNextSystemCall != NULL ? v_next_syscall : NULL;
    }
    init_rc = sqlite3_vfs_register(&bounded, 0);
}

const char *
mcp__store_vfs(mcp_error *err)
{
    pthread_once(&once, register_vfs);
    if (init_rc != SQLITE_OK) {
        mcp_error_set(err, MCP_ERR_STORE, "store: cannot register the SQLite VFS");
        return NULL;
    }
    return VFS_NAME;
}
