/* Constant-time compare, wiping, randomness, clocks, logging. */
#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

mcp_str
mcp_str_from(const char *s)
{
    mcp_str r = { s, s ? strlen(s) : 0 };
    return r;
}

void
mcp_memzero(void *ptr, size_t len)
{
    if (ptr != NULL && len > 0)
        OPENSSL_cleanse(ptr, len);
}

bool
mcp_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    /* Length is not secret (MACs and key hashes have fixed sizes); the bytes are. Comparing
     * min(alen, blen) bytes keeps the loop bounded by the shorter input. */
    size_t n = alen < blen ? alen : blen;
    int diff = (alen != blen);
    if (n > 0)
        diff |= CRYPTO_memcmp(a, b, n) != 0;
    return diff == 0;
}

mcp_status
mcp_random_bytes(void *buf, size_t len, mcp_error *err)
{
    if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1)
        return mcp_error_set(err, MCP_ERR_INTERNAL, "random generator failed");
    return MCP_OK;
}

uint64_t
mcp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t
mcp__unix_now(void)
{
    return (int64_t)time(NULL);
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);   /* kept for the life of the process */
}

bool
mcp__sha256(const void *data, size_t len, unsigned char out[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    unsigned int n = 0;
    if (sha256_md == NULL || EVP_Digest(data, len, out, &n, sha256_md, NULL) != 1 || n != 32) {
        memset(out, 0, 32);
        return false;
    }
    return true;
}

unsigned
mcp__ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

int
mcp__strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z')
            ca += 32;
        if (cb >= 'A' && cb <= 'Z')
            cb += 32;
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

static _Atomic int log_level = MCP__LOG_INFO;
static _Atomic bool log_json = false;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static mcp_log_handler_fn log_handler;     /* under log_mu */
static void *log_handler_udata;
static _Atomic bool log_has_handler;       /* log_handler != NULL, readable without the lock */

void
mcp__log_set_level(mcp__log_level lvl)
{
    atomic_store(&log_level, (int)lvl);
}

void
mcp_log_set_level(mcp_log_level level)
{
    mcp__log_level l = level <= MCP_LOG_DEBUG    ? MCP__LOG_DEBUG
                       : level <= MCP_LOG_NOTICE  ? MCP__LOG_INFO
                       : level == MCP_LOG_WARNING ? MCP__LOG_WARN
                                                  : MCP__LOG_ERROR;
    atomic_store(&log_level, (int)l);
}

void
mcp_log_set_json(bool json)
{
    atomic_store(&log_json, json);
}

void
mcp_log_set_handler(mcp_log_handler_fn fn, void *udata)
{
    pthread_mutex_lock(&log_mu);
    log_handler = fn;
    log_handler_udata = udata;
    atomic_store(&log_has_handler, fn != NULL);
    pthread_mutex_unlock(&log_mu);
}

/* JSON string body of s into dst (quotes not included); always NUL-terminated, cut short at cap */
static void
json_escape(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

/* The "YYYY-MM-DDTHH:MM:SS." part of the time, formatted once a second per thread: gmtime_r
 * takes glibc's time-zone lock, which every IO thread would otherwise contend on per line. */
static _Thread_local struct {
    time_t sec;
    bool set;
    char text[64];
    size_t len;
} log_clock;

/* the line's time stamp into dst (room for 64 + 5 bytes); returns its length */
static size_t
log_when(char *dst)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!log_clock.set || log_clock.sec != ts.tv_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(log_clock.text, sizeof log_clock.text, "%04d-%02d-%02dT%02d:%02d:%02d.",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
        log_clock.len = n > 0 && (size_t)n < sizeof log_clock.text ? (size_t)n : 0;
        log_clock.sec = ts.tv_sec;
        log_clock.set = true;
    }
    memcpy(dst, log_clock.text, log_clock.len);
    long ms = ts.tv_nsec / 1000000;
    size_t o = log_clock.len;
    dst[o++] = (char)('0' + ms / 100);
    dst[o++] = (char)('0' + ms / 10 % 10);
    dst[o++] = (char)('0' + ms % 10);
    dst[o++] = 'Z';
    dst[o] = '\0';
    return o;
}

/* appends s (n bytes) to the line being built, cut at cap */
static void
line_put(char *line, size_t cap, size_t *o, const char *s, size_t n)
{
    if (*o >= cap)
        return;
    if (n > cap - *o)
        n = cap - *o;
    memcpy(line + *o, s, n);
    *o += n;
}

void
mcp__log(mcp__log_level lvl, const char *component, const char *fmt, ...)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    static const mcp_log_level public_level[] = { MCP_LOG_DEBUG, MCP_LOG_INFO, MCP_LOG_WARNING,
                                                  MCP_LOG_ERROR };
    if ((int)lvl < atomic_load(&log_level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int mn = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = mn < 0 ? 0 : (size_t)mn < sizeof msg ? (size_t)mn : sizeof msg - 1;
    msg[mlen] = '\0';
    if (atomic_load(&log_has_handler)) {     /* retaken under the lock */
        pthread_mutex_lock(&log_mu);
        if (log_handler != NULL) {
            log_handler(public_level[lvl], component, msg, log_handler_udata);
            pthread_mutex_unlock(&log_mu);
            return;
        }
        pthread_mutex_unlock(&log_mu);
    }
    /* One line, one write(2), no lock of ours: the kernel keeps a write to a regular file or a
     * pipe (up to PIPE_BUF bytes) whole, so lines of concurrent threads never interleave, and a
     * thread that logs never waits for another one's write. stderr is unbuffered, so this
     * orders correctly with stdio output to it. */
    char when[64 + 8];
    size_t wl = log_when(when);
    char line[6 * sizeof msg + 256];
    size_t o = 0;
    const char *lv = names[lvl];
    if (atomic_load(&log_json)) {
        char ec[64], em[6 * sizeof msg + 1];
        json_escape(ec, sizeof ec, component);
        json_escape(em, sizeof em, msg);
        line_put(line, sizeof line - 1, &o, "{\"time\":\"", 9);
        line_put(line, sizeof line - 1, &o, when, wl);
        line_put(line, sizeof line - 1, &o, "\",\"level\":\"", 11);
        line_put(line, sizeof line - 1, &o, lv, strlen(lv));
        line_put(line, sizeof line - 1, &o, "\",\"component\":\"", 15);
        line_put(line, sizeof line - 1, &o, ec, strlen(ec));
        line_put(line, sizeof line - 1, &o, "\",\"message\":\"", 13);
        line_put(line, sizeof line - 1, &o, em, strlen(em));
        line_put(line, sizeof line - 1, &o, "\"}", 2);
    } else {
        line_put(line, sizeof line - 1, &o, when, wl);
        line_put(line, sizeof line - 1, &o, " ", 1);
        line_put(line, sizeof line - 1, &o, lv, strlen(lv));
        line_put(line, sizeof line - 1, &o, " ", 1);
        line_put(line, sizeof line - 1, &o, component, strlen(component));
        line_put(line, sizeof line - 1, &o, ": ", 2);
        line_put(line, sizeof line - 1, &o, msg, mlen);
    }
    line[o++] = '\n';
    (void)mcp__write_all(STDERR_FILENO, line, o);
}

mcp_status
mcp__write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return MCP_ERR_IO;
        c += w;
        n -= (size_t)w;
    }
    return MCP_OK;
}

bool
mcp__host_is_loopback(const char *host)
{
    /* Only names that cannot leave the machine. A name that merely starts with "127." (such as
     * 127.0.0.1.nip.io or 127.attacker.example) is an ordinary DNS name, and inet_pton accepts
     * nothing but a complete numeric address. */
    if (host == NULL)
        return false;
    if (mcp__strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {   /* URL form of an IPv6 literal */
        if (n - 2 >= sizeof buf)
            return false;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    struct in6_addr a6;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}
