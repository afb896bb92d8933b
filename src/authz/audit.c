/*
 * The audit log: one JSON line per authentication / authorization decision.
 *
 * Lines are formatted on the deciding thread (so the writer needs no access to the request,
 * which is gone by the time the line is written) and queued; one writer thread drains the
 * queue in batches and writes them with write(2). The queue is bounded: when it is full the
 * line is dropped and counted (mcp_audit_dropped()), because blocking the request thread on a
 * slow disk would turn the audit log into a denial-of-service lever. The alternative, a
 * fixed ring of preallocated slots, would avoid the one allocation per line but caps the line
 * length hard; a line here is a few hundred bytes and the allocator handles that well.
 *
 * What a line never contains: a token, an API key, a secret, the Authorization header or the
 * request body. Subjects, client ids, key ids and token ids (jti) are identifiers, not
 * credentials, and are logged.
 */
#include "authz/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIELD_MAX 512      /* longest value copied into a line (bytes, before escaping) */

typedef struct line {
    struct line *next;
    size_t       len;
    char         text[];
} line;

struct mcp_audit {
    pthread_mutex_t mu;
    pthread_cond_t  cv;          /* writer: work arrived or stop */
    pthread_cond_t  done_cv;     /* flushers: a batch was written */
    line           *head, *tail;
    size_t          queued, queue_max;
    uint64_t        enqueued_seq, written_seq;
    bool            stop;
    bool            fsync;
    pthread_mutex_t fd_mu;       /* held while writing a batch and while reopening */
    int             fd;
    bool            own_fd;
    char           *path;
    pthread_t       thread;
    atomic_uint_fast64_t dropped, written;
};

void
mcp_audit_opts_default(mcp_audit_opts *o)
{
    memset(o, 0, sizeof *o);
    o->queue_max = 8192;
}

static int
open_log(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

static void *
writer_main(void *arg)
{
    mcp_audit *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->head == NULL && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->head == NULL && a->stop)
            break;
        line *batch = a->head;
        uint64_t upto = a->enqueued_seq;
        a->head = a->tail = NULL;
        a->queued = 0;
        pthread_mutex_unlock(&a->mu);

        pthread_mutex_lock(&a->fd_mu);
        uint64_t n = 0;
        for (line *l = batch, *next; l != NULL; l = next) {
            next = l->next;
            /* A failure is dropped: nothing sensible to do when the log itself fails. */
            (void)mcp__write_all(a->fd, l->text, l->len);
            mcp__free(l);
            n++;
        }
        if (a->fsync)
            fdatasync(a->fd);
        pthread_mutex_unlock(&a->fd_mu);
        atomic_fetch_add(&a->written, n);

        pthread_mutex_lock(&a->mu);
        a->written_seq = upto;
        pthread_cond_broadcast(&a->done_cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Release what mcp_audit_open set up once the writer thread has stopped (or never started). */
static void
release(mcp_audit *a)
{
    if (a->own_fd)
        close(a->fd);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->fd_mu);
    pthread_cond_destroy(&a->cv);
    pthread_cond_destroy(&a->done_cv);
    mcp__free(a->path);
    mcp__free(a);
}

mcp_status
mcp_audit_open(const mcp_audit_opts *opts, mcp_audit **out, mcp_error *err)
{
    mcp_audit_opts def;
    *out = NULL;
    if (opts == NULL) {
        mcp_audit_opts_default(&def);
        opts = &def;
    }
    mcp_audit *a = mcp__calloc(1, sizeof *a);
    if (a == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    a->queue_max = opts->queue_max ? opts->queue_max : 8192;
    a->fsync = opts->fsync;
    a->fd = STDERR_FILENO;
    if (opts->path != NULL && strcmp(opts->path, "-") != 0) {
        if ((a->path = mcp__strdup(opts->path)) == NULL) {
            mcp__free(a);
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        }
        a->fd = open_log(a->path);
        if (a->fd < 0) {
            int e = errno;
            mcp__free(a->path);
            mcp__free(a);
            return mcp_error_set(err, MCP_ERR_IO, "audit log %.150s: %s", opts->path,
                                 strerror(e));
        }
        a->own_fd = true;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->fd_mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    pthread_cond_init(&a->done_cv, NULL);
    atomic_init(&a->dropped, 0);
    atomic_init(&a->written, 0);
    if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
        release(a);
        return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start the audit writer thread");
    }
    *out = a;
    return MCP_OK;
}

void
mcp_audit_close(mcp_audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);        /* the writer drains the queue before it exits */
    release(a);
}

mcp_status
mcp_audit_reopen(mcp_audit *a, mcp_error *err)
{
    if (a == NULL || !a->own_fd)
        return MCP_OK;                    /* stderr: nothing to reopen */
    int fd = open_log(a->path);
    if (fd < 0)
        return mcp_error_set(err, MCP_ERR_IO, "audit log %.150s: %s", a->path, strerror(errno));
    pthread_mutex_lock(&a->fd_mu);
    int old = a->fd;
    a->fd = fd;
    pthread_mutex_unlock(&a->fd_mu);
    close(old);
    return MCP_OK;
}

uint64_t
mcp_audit_dropped(const mcp_audit *a)
{
    return a != NULL ? atomic_load(&((mcp_audit *)a)->dropped) : 0;
}

uint64_t
mcp_audit_written(const mcp_audit *a)
{
    return a != NULL ? atomic_load(&((mcp_audit *)a)->written) : 0;
}

mcp_status
mcp_audit_flush(mcp_audit *a, unsigned timeout_ms)
{
    if (a == NULL)
        return MCP_OK;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    mcp_status rc = MCP_OK;
    pthread_mutex_lock(&a->mu);
    uint64_t want = a->enqueued_seq;
    while (a->written_seq < want) {
        if (pthread_cond_timedwait(&a->done_cv, &a->mu, &until) == ETIMEDOUT) {
            rc = a->written_seq < want ? MCP_ERR_TIMEOUT : MCP_OK;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* ---- formatting -------------------------------------------------------------------------- */

/* A line being built; `bad` is sticky, so a line that lost a piece (out of memory) is dropped
 * instead of being written half. */
typedef struct linebuf {
    mcp_buf b;
    bool    bad;
} linebuf;

static void
lb_append(linebuf *l, const char *p, size_t n)
{
    if (!l->bad && mcp__buf_append(&l->b, p, n) != MCP_OK)
        l->bad = true;
}

static void
lb_appends(linebuf *l, const char *s)
{
    lb_append(l, s, strlen(s));
}

static void
lb_printf(linebuf *l, const char *fmt, ...) MCP_PRINTF(2, 3);

static void
lb_printf(linebuf *l, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        l->bad = true;
    else
        lb_append(l, tmp, (size_t)n);
}

/* Append s as a JSON string (with quotes), at most FIELD_MAX input bytes, cut on a UTF-8
 * boundary; NULL gives null. */
static void
put_str(linebuf *b, const char *s)
{
    if (s == NULL) {
        lb_appends(b, "null");
        return;
    }
    size_t n = strlen(s);
    if (n > FIELD_MAX) {
        n = FIELD_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;                             /* don't split a multi-byte character */
    }
    char tmp[8];
    lb_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            esc = tmp;
        }
        if (esc != NULL) {
            lb_append(b, s + i - run, run);
            lb_appends(b, esc);
            run = 0;
        } else
            run++;
    }
    lb_append(b, s + n - run, run);
    lb_append(b, "\"", 1);
}

static void
put_key(linebuf *b, const char *key)
{
    lb_printf(b, ",\"%s\":", key);
}

static void
put_time(linebuf *b)
{
    struct timespec ts;
    struct tm tm;
    char t[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t secs = ts.tv_sec;
    gmtime_r(&secs, &tm);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    lb_printf(b, "{\"time\":\"%s.%03ldZ\"", t, ts.tv_nsec / 1000000L);
}

/* "a b c" -> ["a","b","c"] */
static void
put_words(linebuf *b, const char *s)
{
    lb_append(b, "[", 1);
    bool first = true;
    char word[MCP_POLICY_PERM_MAX + 1];
    while (s != NULL && *s) {
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, " ");
        if (n == 0)
            break;
        if (n < sizeof word) {
            memcpy(word, s, n);
            word[n] = '\0';
            if (!first)
                lb_append(b, ",", 1);
            put_str(b, word);
            first = false;
        }
        s += n;
    }
    lb_append(b, "]", 1);
}

/* The JSON-RPC id as JSON: a number stays a number, a string stays a string, else null. */
static void
put_rpc_id(linebuf *b, const mcp_request *req)
{
    char id[160];
    mcp_request_rpc_id_text(req, id, sizeof id);
    size_t n = strlen(id);
    if (n >= 2 && id[0] == '"' && id[n - 1] == '"') {
        id[n - 1] = '\0';
        put_str(b, id + 1);
        return;
    }
    bool num = n > 0 && n < 24;
    for (size_t i = 0; num && i < n; i++)
        num = (id[i] >= '0' && id[i] <= '9') || (i == 0 && id[i] == '-');
    if (num)
        lb_appends(b, id);
    else
        lb_appends(b, "null");
}

static void
enqueue(mcp_audit *a, linebuf *lb)
{
    lb_append(lb, "\n", 1);
    mcp_buf *b = &lb->b;
    if (lb->bad || b->ptr == NULL) {
        atomic_fetch_add(&a->dropped, 1);
        return;
    }
    line *l = mcp__alloc(sizeof *l + b->len);
    if (l == NULL) {
        atomic_fetch_add(&a->dropped, 1);
        return;
    }
    l->next = NULL;
    l->len = b->len;
    memcpy(l->text, b->ptr, b->len);
    pthread_mutex_lock(&a->mu);
    if (a->queued >= a->queue_max || a->stop) {
        pthread_mutex_unlock(&a->mu);
        mcp__free(l);
        atomic_fetch_add(&a->dropped, 1);
        return;
    }
    if (a->tail != NULL)
        a->tail->next = l;
    else
        a->head = l;
    a->tail = l;
    a->queued++;
    a->enqueued_seq++;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static const char *
decision_word(const mcp_decision *d)
{
    return d->allowed ? "allow" : "deny";
}

/* The Mcp-Session-Id is a bearer-like secret (whoever holds it can use the session), so a line
 * carries only a short non-reversible form: the first 16 hex digits (64 bits) of its SHA-256.
 * Enough to tell sessions apart and to find a known session's lines; it cannot be presented. */
static void
put_session(linebuf *b, const char *sid)
{
    if (sid == NULL) {
        put_str(b, NULL);
        return;
    }
    unsigned char h[SHA256_DIGEST_LENGTH];
    if (!mcp__sha256(sid, strlen(sid), h)) {
        put_str(b, NULL);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char out[17];
    for (size_t i = 0; i < 8; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 0xf];
    }
    out[16] = '\0';
    put_str(b, out);
}

void
mcp_audit_decision(void *audit, const mcp_request *req, const mcp_decision *d)
{
    mcp_audit *a = audit;
    if (a == NULL || d == NULL)
        return;
    const mcp_principal *p = req != NULL ? mcp_request_principal(req) : NULL;
    linebuf b = { .bad = false };
    mcp__buf_init(&b.b, 65536);
    put_time(&b);
    put_key(&b, "event");
    put_str(&b, d->phase);
    put_key(&b, "decision");
    put_str(&b, decision_word(d));
    put_key(&b, "status");
    put_str(&b, mcp_status_name(d->status));
    put_key(&b, "http_status");
    lb_printf(&b, "%d", d->allowed ? 200 : d->status == MCP_ERR_UNAUTHENTICATED ? 401
                              : d->status == MCP_ERR_FORBIDDEN ? 403
                              : d->status == MCP_ERR_RATE_LIMITED ? 429
                              : d->status == MCP_ERR_STORE ? 503
                              : d->status == MCP_ERR_TOO_LARGE ? 413
                              : d->status == MCP_ERR_NOT_FOUND ? 404
                              : d->status == MCP_ERR_NOMEM || d->status == MCP_ERR_INTERNAL ? 500
                              : 400);
    put_key(&b, "reason");
    put_str(&b, d->reason != NULL ? d->reason : "");
    put_key(&b, "missing");
    put_words(&b, d->missing);
    if (d->phase != NULL && strcmp(d->phase, "authz") == 0) {
        /* the rule that combined the credential's and the store's permissions, when the
         * RBAC engine decided this request */
        const char *rule = mcp__rbac_pinned_rule(p);
        if (rule != NULL) {
            put_key(&b, "permission_rule");
            put_str(&b, rule);
        }
    }
    put_key(&b, "subject");
    put_str(&b, p != NULL ? mcp_principal_subject(p) : NULL);
    put_key(&b, "client_id");
    put_str(&b, p != NULL ? mcp_principal_client_id(p) : NULL);
    put_key(&b, "credential");
    put_str(&b, p != NULL ? mcp_cred_kind_name(mcp_principal_kind(p)) : NULL);
    put_key(&b, "key_id");
    put_str(&b, p != NULL ? mcp_principal_key_id(p) : NULL);
    put_key(&b, "jti");
    put_str(&b, p != NULL ? mcp_principal_jti(p) : NULL);
    put_key(&b, "method");
    put_str(&b, d->method);
    put_key(&b, "target");
    put_str(&b, d->target);
    put_key(&b, "session_id");
    put_session(&b, req != NULL ? mcp_request_session_id(req) : NULL);
    put_key(&b, "request_id");
    if (req != NULL)
        put_rpc_id(&b, req);
    else
        lb_appends(&b, "null");
    put_key(&b, "peer");
    put_str(&b, req != NULL ? mcp_request_peer(req) : NULL);
    put_key(&b, "transport");
    put_str(&b, req != NULL ? mcp_request_http_method(req) : NULL);
    lb_append(&b, "}", 1);
    enqueue(a, &b);
    mcp__buf_cleanup(&b.b);
}

void
mcp_audit_event(mcp_audit *a, const char *event, const char *outcome, const char *detail)
{
    if (a == NULL)
        return;
    linebuf b = { .bad = false };
    mcp__buf_init(&b.b, 65536);
    put_time(&b);
    put_key(&b, "event");
    put_str(&b, event);
    put_key(&b, "decision");
    put_str(&b, outcome);
    put_key(&b, "reason");
    put_str(&b, detail != NULL ? detail : "");
    lb_append(&b, "}", 1);
    enqueue(a, &b);
    mcp__buf_cleanup(&b.b);
}

void
mcp_audit_attach(mcp_audit *a, mcp_server *srv)
{
    mcp_server_set_decision_hook(srv, a != NULL ? mcp_audit_decision : NULL, a);
}
