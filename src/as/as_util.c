/*
 * Helpers of the authorization server: form parsing, encodings, PKCE, password hashing,
 * redirect and scope rules, the login throttle.
 *
 * Password hash: scrypt (OpenSSL's EVP_PBE_scrypt) rather than Argon2 (libargon2): both are
 * memory-hard, and scrypt comes with the OpenSSL the library already links for JWT, so the
 * server gains no dependency. N = 2^15, r = 8, p = 1 costs 32 MiB and tens of milliseconds per
 * check; the parameters are stored with each hash, so they can grow later without breaking
 * stored passwords.
 */
#include "as/internal.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

/* ---- forms ------------------------------------------------------------------------------ */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *
mcp__as_urldecode(const char *s, size_t n)
{
    char *out = mcp__alloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                mcp__free(out);
                return NULL;
            }
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (ch == '\0') {
            mcp__free(out);
            return NULL;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
    return out;
}

mcp_status
mcp__as_form_parse(mcp__as_form *f, const char *body, size_t len)
{
    memset(f, 0, sizeof *f);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && body[eq] != '=')
                eq++;
            if (f->n == MCP__AS_FORM_MAX)
                return MCP_ERR_PARSE;
            char *name = mcp__as_urldecode(body + i, eq - i);
            char *value = mcp__as_urldecode(body + (eq < end ? eq + 1 : end),
                                            eq < end ? end - eq - 1 : 0);
            if (name == NULL || value == NULL) {
                mcp__free(name);
                mcp__free(value);
                return MCP_ERR_PARSE;
            }
            if (mcp__as_form_get(f, name) != NULL)
                f->dup = true;
            f->name[f->n] = name;
            f->value[f->n] = value;
            f->n++;
        }
        i = end + 1;
    }
    return MCP_OK;
}

const char *
mcp__as_form_get(const mcp__as_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    return NULL;
}

void
mcp__as_form_cleanup(mcp__as_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        mcp__free(f->name[i]);
        if (f->value[i] != NULL)
            mcp_memzero(f->value[i], strlen(f->value[i])); /* passwords, secrets, codes */
        mcp__free(f->value[i]);
    }
    memset(f, 0, sizeof *f);
}

mcp_status
mcp__as_urlencode(mcp_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        mcp_status rc = keep ? mcp__buf_append(b, s, 1)
                             : mcp__buf_printf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
        if (rc != MCP_OK)
            return rc;
    }
    return MCP_OK;
}

mcp_status
mcp__as_html(mcp_buf *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        mcp_status rc = rep != NULL ? mcp__buf_appends(b, rep) : mcp__buf_append(b, s, 1);
        if (rc != MCP_OK)
            return rc;
    }
    return MCP_OK;
}

/* ---- tokens, hashes, PKCE ---------------------------------------------------------------- */

char *
mcp__as_random_token(void)
{
    unsigned char r[32];
    if (mcp_random_bytes(r, sizeof r, NULL) != MCP_OK)
        return NULL;
    char *t = mcp__b64url_encode(r, sizeof r);
    mcp_memzero(r, sizeof r);
    return t;
}

bool
mcp__as_sha256_hex(const char *s, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char h[32];
    if (!mcp__sha256(s, n, h))
        return false;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
    return true;
}

bool
mcp__as_pkce_ok(const char *verifier, const char *challenge)
{
    if (verifier == NULL || challenge == NULL)
        return false;
    size_t n = strlen(verifier);
    if (n < 43 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = verifier[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        if (!ok)
            return false;
    }
    unsigned char h[32];
    if (!mcp__sha256(verifier, n, h))
        return false;
    char *enc = mcp__b64url_encode(h, sizeof h);
    if (enc == NULL)
        return false;
    bool ok = mcp_ct_equal(enc, strlen(enc), challenge, strlen(challenge));
    mcp__free(enc);
    return ok;
}

/* ---- passwords -------------------------------------------------------------------------- */

#define SCRYPT_R    8u
#define SCRYPT_P    1u
#define SCRYPT_SALT 16
#define SCRYPT_LEN  32

static bool
scrypt_raw(const char *pw, size_t len, const unsigned char *salt, size_t slen, unsigned log2n,
           unsigned char out[SCRYPT_LEN])
{
    uint64_t N = (uint64_t)1 << log2n;
    uint64_t maxmem = 128 * N * SCRYPT_R + (1u << 20);
    return EVP_PBE_scrypt(pw, len, salt, slen, N, SCRYPT_R, SCRYPT_P, maxmem, out, SCRYPT_LEN) ==
           1;
}

char *
mcp__as_password_hash(const char *pw, size_t len, unsigned log2n)
{
    unsigned char salt[SCRYPT_SALT], h[SCRYPT_LEN];
    if (log2n < 10 || log2n > 20 || mcp_random_bytes(salt, sizeof salt, NULL) != MCP_OK ||
        !scrypt_raw(pw, len, salt, sizeof salt, log2n, h))
        return NULL;
    char *s64 = mcp__b64url_encode(salt, sizeof salt), *h64 = mcp__b64url_encode(h, sizeof h);
    char *out = NULL;
    if (s64 != NULL && h64 != NULL)
        out = mcp__aprintf("$scrypt$ln=%u,r=%u,p=%u$%s$%s", log2n, SCRYPT_R, SCRYPT_P, s64, h64);
    mcp_memzero(h, sizeof h);
    mcp__free(s64);
    mcp__free(h64);
    return out;
}

bool
mcp__as_password_check(const char *pw, size_t len, const char *stored)
{
    /* a fixed dummy with the default cost: an unknown user takes as long as a known one */
    static const char dummy[] =
        "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    bool real = stored != NULL;
    const char *s = real ? stored : dummy;
    unsigned ln = 0, r = 0, p = 0;
    int off = 0;
    if (sscanf(s, "$scrypt$ln=%u,r=%u,p=%u$%n", &ln, &r, &p, &off) != 3 || off <= 0 ||
        ln < 10 || ln > 20 || r != SCRYPT_R || p != SCRYPT_P)
        return false;
    const char *salt64 = s + off, *dollar = strchr(salt64, '$');
    if (dollar == NULL)
        return false;
    unsigned char *salt = NULL, *want = NULL, got[SCRYPT_LEN];
    size_t slen = 0, wlen = 0;
    bool ok = false;
    if (mcp__b64url_decode(salt64, (size_t)(dollar - salt64), &salt, &slen) == MCP_OK &&
        mcp__b64url_decode(dollar + 1, strlen(dollar + 1), &want, &wlen) == MCP_OK &&
        wlen == SCRYPT_LEN && scrypt_raw(pw, len, salt, slen, ln, got))
        ok = mcp_ct_equal(got, sizeof got, want, wlen);
    mcp_memzero(got, sizeof got);
    mcp__free(salt);
    mcp__free(want);
    return ok && real;
}

/* ---- redirects and scopes --------------------------------------------------------------- */

/* Split "http://HOST:PORT/rest" of a loopback host: host part and what follows the port. */
static bool
loopback_parts(const char *u, size_t *host_len, const char **rest)
{
    static const char *const hosts[] = { "http://127.0.0.1", "http://[::1]", "http://localhost" };
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t hl = strlen(hosts[i]);
        if (strncmp(u, hosts[i], hl) != 0)
            continue;
        const char *p = u + hl;
        if (*p == ':') {
            p++;
            if (*p < '0' || *p > '9')
                return false;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if (*p != '/' && *p != '\0')
            return false;
        *host_len = hl;
        *rest = p;
        return true;
    }
    return false;
}

bool
mcp__as_redirect_ok(const char *registered, const char *uri)
{
    if (registered == NULL || uri == NULL || uri[0] == '\0' || strchr(uri, '#') != NULL)
        return false;
    size_t ul = strlen(uri);
    for (const char *p = registered; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n == ul && memcmp(p, uri, n) == 0)
            return true;
        /* RFC 8252 section 7.3: a native app's loopback redirect may use any port */
        char one[2048];
        if (n > 0 && n < sizeof one) {
            memcpy(one, p, n);
            one[n] = '\0';
            size_t rh = 0, uh = 0;
            const char *rrest = NULL, *urest = NULL;
            if (loopback_parts(one, &rh, &rrest) && loopback_parts(uri, &uh, &urest) &&
                rh == uh && memcmp(one, uri, rh) == 0 && strcmp(rrest, urest) == 0)
                return true;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return false;
}

bool
mcp__as_scope_ok(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s != '\0'; s++)
        if (*s < ' ' || *s > '~' || *s == '"' || *s == '\\')
            return false;
    return true;
}

static bool
word_in(const char *w, size_t wl, const char *const *arr, const char *str)
{
    if (arr != NULL) {
        for (size_t i = 0; arr[i] != NULL; i++)
            if (strlen(arr[i]) == wl && memcmp(arr[i], w, wl) == 0)
                return true;
        return false;
    }
    for (const char *p = str; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n == wl && memcmp(p, w, n) == 0)
            return true;
        p += n;
        while (*p == ' ')
            p++;
    }
    return false;
}

char *
mcp__as_scope_grant(const char *want, const char *const *have_arr, const char *have_str)
{
    mcp_buf b;
    mcp__buf_init(&b, 64u << 10);
    bool ok = true;
    bool all = want == NULL || strspn(want, " ") == strlen(want);
    if (all) {
        if (have_arr != NULL) {
            for (size_t i = 0; ok && have_arr[i] != NULL; i++)
                ok = mcp__buf_printf(&b, "%s%s", b.len ? " " : "", have_arr[i]) == MCP_OK;
        } else if (have_str != NULL) {
            ok = mcp__buf_appends(&b, have_str) == MCP_OK;
        }
    } else {
        for (const char *p = want; ok && *p != '\0';) {
            size_t n = strcspn(p, " ");
            /* a word asked for twice is granted once */
            if (n > 0 && word_in(p, n, have_arr, have_str)) {
                char *sofar = mcp__strndup(b.ptr ? b.ptr : "", b.len);
                bool seen = sofar != NULL && word_in(p, n, NULL, sofar);
                mcp__free(sofar);
                if (!seen)
                    ok = mcp__buf_printf(&b, "%s%.*s", b.len ? " " : "", (int)n, p) == MCP_OK;
            }
            p += n;
            while (*p == ' ')
                p++;
        }
    }
    if (ok && mcp__buf_append(&b, "", 1) != MCP_OK)
        ok = false;
    if (!ok) {
        mcp__buf_cleanup(&b);
        return NULL;
    }
    size_t len;
    return mcp__buf_steal(&b, &len);
}

/* ---- login throttle --------------------------------------------------------------------- */

/* A small fixed table: a flood of distinct keys evicts the oldest windows (bounded memory),
 * which at worst lets an evicted key start a fresh window early. */
static mcp__as_slot *
slot_find(mcp_as *as, const char *key, bool create, int64_t now)
{
    mcp__as_slot *oldest = NULL;
    for (size_t i = 0; i < MCP__AS_THROTTLE_SLOTS; i++) {
        mcp__as_slot *s = &as->throttle[i];
        if (s->key[0] != '\0' && strcmp(s->key, key) == 0)
            return s;
        if (oldest == NULL || s->key[0] == '\0' ||
            (oldest->key[0] != '\0' && s->window_start < oldest->window_start))
            oldest = s;
    }
    if (!create || oldest == NULL)
        return NULL;
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    oldest->fails = 0;
    oldest->window_start = now;
    return oldest;
}

unsigned
mcp__as_throttle_wait(mcp_as *as, const char *key, unsigned limit, int64_t now)
{
    if (limit == 0)
        return 0;
    unsigned wait = 0;
    int64_t win = as->opts.login_fail_window_s;
    pthread_mutex_lock(&as->throttle_mu);
    mcp__as_slot *s = slot_find(as, key, false, now);
    if (s != NULL && now - s->window_start < win && s->fails >= limit)
        wait = (unsigned)(win - (now - s->window_start));
    pthread_mutex_unlock(&as->throttle_mu);
    return wait;
}

void
mcp__as_throttle_fail(mcp_as *as, const char *key, int64_t now)
{
    pthread_mutex_lock(&as->throttle_mu);
    mcp__as_slot *s = slot_find(as, key, true, now);
    if (s != NULL) {
        if (now - s->window_start >= (int64_t)as->opts.login_fail_window_s) {
            s->window_start = now;
            s->fails = 0;
        }
        s->fails++;
    }
    pthread_mutex_unlock(&as->throttle_mu);
}

void
mcp__as_throttle_reset(mcp_as *as, const char *key)
{
    pthread_mutex_lock(&as->throttle_mu);
    mcp__as_slot *s = slot_find(as, key, false, 0);
    if (s != NULL)
        s->key[0] = '\0';
    pthread_mutex_unlock(&as->throttle_mu);
}
