/* Mcp-Method / Mcp-Name / Mcp-Param-* rules (SEP-2243). Why the base64 decoder is here and not
 * in common/base64.c: that file is being moved by the layers work this round; this strict
 * standard-alphabet decoder is small, has one user, and can move there afterwards. */
#include "protocol/mcp_headers.h"

#include "jsonrpc/jsonrpc.h"

#include <string.h>

#define MISMATCH(...) \
    mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, -32020, __VA_ARGS__)

static const char SENT_PFX[] = "=?base64?";
static const char SENT_SFX[] = "?=";
#define SENT_PFX_LEN (sizeof SENT_PFX - 1)
#define SENT_SFX_LEN (sizeof SENT_SFX - 1)

bool
mcp__hdr_value_plain_ok(const char *v, size_t len)
{
    if (!v || len == 0)
        return false;
    if (v[0] == ' ' || v[0] == '\t' || v[len - 1] == ' ' || v[len - 1] == '\t')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(c == ' ' || c == '\t' || (c >= 0x21 && c <= 0x7e)))
            return false;
    }
    return true;
}

bool
mcp__hdr_token_ok(const char *name, size_t len)
{
    static const char TCHAR_EXTRA[] = "!#$%&'*+-.^_`|~";
    if (!name || len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (c == '\0' || !strchr(TCHAR_EXTRA, c)))
            return false;
    }
    return true;
}

static int
b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict RFC 4648 section 4: length a multiple of 4, '=' only as final padding, zero pad bits. */
static mcp_status
b64std_decode(const char *in, size_t len, char **out, size_t *outlen)
{
    if (len == 0 || len % 4 != 0)
        return MCP_ERR_PARSE;
    size_t pad = 0;
    if (in[len - 1] == '=')
        pad = (in[len - 2] == '=') ? 2 : 1;
    char *o = mcp__alloc(len / 4 * 3 + 1);
    if (!o)
        return MCP_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        bool last = i + 4 == len;
        for (int k = 0; k < 4; k++) {
            bool padpos = last && (size_t)k >= 4 - pad;
            v[k] = padpos ? 0 : b64val((unsigned char)in[i + (size_t)k]);
            if (padpos ? in[i + (size_t)k] != '=' : v[k] < 0) {
                mcp__free(o);
                return MCP_ERR_PARSE;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        if (last && ((pad == 1 && (w & 0xffu)) || (pad == 2 && (w & 0xffffu)))) {
            mcp__free(o);                         /* non-canonical: stray bits under padding */
            return MCP_ERR_PARSE;
        }
        o[n++] = (char)(w >> 16);
        if (!(last && pad == 2))
            o[n++] = (char)(w >> 8 & 0xffu);
        if (!(last && pad >= 1))
            o[n++] = (char)(w & 0xffu);
    }
    o[n] = '\0';
    *out = o;
    *outlen = n;
    return MCP_OK;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without NUL. */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1fu;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0fu;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* RFC 9110 5.5: optional whitespace around a field value is not part of it. libmicrohttpd
 * already strips it; trimming again keeps these functions correct for any caller. */
static void
trim_ows(const char **v, size_t *len)
{
    while (*len > 0 && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
        (*v)++;
        (*len)--;
    }
    while (*len > 0 && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
        (*len)--;
}

mcp_status
mcp__hdr_decode(const char *v, size_t len, char **out, size_t *outlen, mcp_error *err)
{
    if (!v)
        return MISMATCH("Header mismatch: header value missing");
    trim_ows(&v, &len);
    if (len > MCP__HDR_MAX_VALUE * 2)
        return mcp_error_set_rpc(err, MCP_ERR_TOO_LARGE, -32020, "Header value too long");
    if (len >= SENT_PFX_LEN + SENT_SFX_LEN && memcmp(v, SENT_PFX, SENT_PFX_LEN) == 0 &&
        memcmp(v + len - SENT_SFX_LEN, SENT_SFX, SENT_SFX_LEN) == 0) {
        char *d = NULL;
        size_t dn = 0;
        mcp_status rc = b64std_decode(v + SENT_PFX_LEN, len - SENT_PFX_LEN - SENT_SFX_LEN, &d, &dn);
        if (rc == MCP_ERR_NOMEM)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        if (rc != MCP_OK)
            return MISMATCH("Header mismatch: invalid base64 in an encoded header value");
        if (!utf8_ok((const unsigned char *)d, dn)) {
            mcp__free(d);
            return MISMATCH("Header mismatch: encoded header value is not UTF-8");
        }
        if (dn > MCP__HDR_MAX_VALUE) {
            mcp__free(d);
            return mcp_error_set_rpc(err, MCP_ERR_TOO_LARGE, -32020, "Header value too long");
        }
        *out = d;
        if (outlen)
            *outlen = dn;
        return MCP_OK;
    }
    if (!mcp__hdr_value_plain_ok(v, len))
        return MISMATCH("Header mismatch: header value contains invalid characters");
    if (len > MCP__HDR_MAX_VALUE)
        return mcp_error_set_rpc(err, MCP_ERR_TOO_LARGE, -32020, "Header value too long");
    char *d = mcp__strndup(v, len);
    if (!d)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    *out = d;
    if (outlen)
        *outlen = len;
    return MCP_OK;
}

mcp_status
mcp__hdr_target_read(const char *mcp_method, const char *mcp_name, mcp__hdr_target *out,
                     mcp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!mcp_method)
        return MISMATCH("Header mismatch: Mcp-Method header is required");
    size_t mlen = strlen(mcp_method);
    trim_ows(&mcp_method, &mlen);
    if (!mcp__hdr_value_plain_ok(mcp_method, mlen))
        return MISMATCH("Header mismatch: Mcp-Method header contains invalid characters");
    if (mlen >= sizeof out->method)
        return MISMATCH("Header mismatch: Mcp-Method header too long");
    memcpy(out->method, mcp_method, mlen);
    out->method[mlen] = '\0';
    if (!mcp__rpc_name_member(out->method))
        return MCP_OK;
    if (!mcp_name)
        return MISMATCH("Header mismatch: Mcp-Name header is required for %s", out->method);
    return mcp__hdr_decode(mcp_name, strlen(mcp_name), &out->name, &out->name_len, err);
}

void
mcp__hdr_target_cleanup(mcp__hdr_target *t)
{
    if (!t)
        return;
    mcp__free(t->name);
    t->name = NULL;
    t->name_len = 0;
}

mcp_status
mcp__hdr_verify_body(const mcp__hdr_target *t, const char *body_method, const json_t *params,
                     mcp_error *err)
{
    if (t->method[0] == '\0' || !body_method || strcmp(t->method, body_method) != 0)
        return MISMATCH("Header mismatch: Mcp-Method header does not match the body's method");
    const char *field = mcp__rpc_name_member(body_method);
    if (!field)
        return MCP_OK;
    const json_t *v = params ? json_object_get(params, field) : NULL;
    if (!json_is_string(v))
        return MISMATCH("Header mismatch: Mcp-Name header given but params.%s is not a string",
                        field);
    if (!t->name || json_string_length(v) != t->name_len ||
        memcmp(json_string_value(v), t->name, t->name_len) != 0)
        return MISMATCH("Header mismatch: Mcp-Name header does not match params.%s", field);
    return MCP_OK;
}

bool
mcp__hdr_param_matches(const char *hv, const json_t *v)
{
    if (!hv || !v)
        return false;
    if (json_is_string(v))
        return strlen(hv) == json_string_length(v) && memcmp(hv, json_string_value(v),
                                                             json_string_length(v)) == 0;
    if (json_is_boolean(v))
        return strcmp(hv, json_is_true(v) ? "true" : "false") == 0;
    if (!json_is_integer(v))
        return false;
    /* Numeric comparison (spec: 42.0 equals 42). Parsed by hand: strtoll would accept leading
     * whitespace and '+', which a header value must not carry. */
    const char *p = hv;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return false;
    const uint64_t LIM = ((uint64_t)1 << 53) - 1;
    uint64_t mag = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        mag = mag * 10 + (uint64_t)(*p - '0');
        if (mag > LIM)
            return false;
    }
    if (*p == '.') {
        p++;
        if (*p == '\0')
            return false;
        for (; *p == '0'; p++)
            ;
    }
    if (*p != '\0')
        return false;
    json_int_t bv = json_integer_value(v);
    if (bv > (json_int_t)LIM || bv < -(json_int_t)LIM)
        return false;
    int64_t hvv = neg ? -(int64_t)mag : (int64_t)mag;
    return hvv == (int64_t)bv;
}
