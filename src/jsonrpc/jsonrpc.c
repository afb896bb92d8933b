/* JSON-RPC 2.0 envelopes. jansson parses; this file validates shapes and decides error codes. */
#include "jsonrpc/jsonrpc.h"

#include "common/common.h"

#include <string.h>

const char *
mcp__rpc_name_member(const char *method)
{
    static const struct {
        const char *method, *member;
    } map[] = {
        { "tools/call", "name" },     { "prompts/get", "name" },   { "resources/read", "uri" },
        { "tasks/get", "taskId" },    { "tasks/update", "taskId" }, { "tasks/cancel", "taskId" },
    };
    for (size_t i = 0; method != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(method, map[i].method) == 0)
            return map[i].member;
    return NULL;
}

int
mcp__json_depth(const json_t *v, int limit)
{
    if (limit <= 0)
        return 1;
    int max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            int d = mcp__json_depth(c, limit - 1);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            int d = mcp__json_depth(c, limit - 1);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

static bool
valid_id(const json_t *id)
{
    /* MCP: a request id is a string or an integer, never null. */
    return json_is_string(id) || json_is_integer(id);
}

mcp_status
mcp__rpc_parse(const char *buf, size_t len, mcp__rpc_msg *out, json_t **id_out, mcp_error *err)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    if (id_out != NULL)
        *id_out = NULL;
    /* JSON_REJECT_DUPLICATES: one name, one meaning (an attacker can't smuggle a second "method"
     * past a proxy that reads the first). jansson caps nesting at 2048 itself; we cap lower below. */
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return mcp_error_set_rpc(err, MCP_ERR_PARSE, MCP_RPC_PARSE_ERROR, "parse error: %s",
                                 jerr.text);
    if (json_is_array(root)) {
        json_decref(root);
        return mcp_error_set_rpc(err, MCP_ERR_PARSE, MCP_RPC_INVALID_REQUEST,
                                 "invalid request: JSON-RPC batches are not supported");
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return mcp_error_set_rpc(err, MCP_ERR_PARSE, MCP_RPC_INVALID_REQUEST,
                                 "invalid request: message is not an object");
    }
    json_t *id = json_object_get(root, "id");
    if (id_out != NULL && id != NULL && valid_id(id))
        *id_out = json_incref(id);
    if (mcp__json_depth(root, MCP__JSON_MAX_DEPTH + 1) > MCP__JSON_MAX_DEPTH) {
        json_decref(root);
        return mcp_error_set_rpc(err, MCP_ERR_TOO_LARGE, MCP_RPC_INVALID_REQUEST,
                                 "invalid request: nesting deeper than %d", MCP__JSON_MAX_DEPTH);
    }
    const char *why = NULL;
    json_t *ver = json_object_get(root, "jsonrpc");
    json_t *method = json_object_get(root, "method");
    json_t *params = json_object_get(root, "params");
    json_t *result = json_object_get(root, "result");
    json_t *error = json_object_get(root, "error");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) {
        why = "\"jsonrpc\" must be \"2.0\"";
    } else if (method != NULL) {
        if (!json_is_string(method) || json_string_length(method) == 0)
            why = "\"method\" must be a non-empty string";
        else if (result != NULL || error != NULL)
            why = "a request cannot carry \"result\" or \"error\"";
        else if (params != NULL && !json_is_object(params))
            why = "\"params\" must be an object";
        else if (id != NULL && !valid_id(id))
            why = "\"id\" must be a string or an integer";
        else {
            out->kind = id != NULL ? MCP__RPC_REQUEST : MCP__RPC_NOTIFICATION;
            out->method = json_string_value(method);
            out->id = id;
            out->params = params;
        }
    } else if (result != NULL || error != NULL) {
        if (result != NULL && error != NULL)
            why = "a response cannot carry both \"result\" and \"error\"";
        else if (!valid_id(id))
            why = "a response needs a string or integer \"id\"";
        else if (error != NULL && (!json_is_object(error) ||
                                   !json_is_integer(json_object_get(error, "code"))))
            why = "\"error\" must be an object with an integer \"code\"";
        else {
            out->kind = MCP__RPC_RESPONSE;
            out->id = id;
            out->result = result;
            out->error = error;
        }
    } else {
        why = "missing \"method\"";
    }
    if (why != NULL) {
        json_decref(root);
        return mcp_error_set_rpc(err, MCP_ERR_PARSE, MCP_RPC_INVALID_REQUEST,
                                 "invalid request: %s", why);
    }
    out->root = root;
    return MCP_OK;
}

void
mcp__rpc_msg_cleanup(mcp__rpc_msg *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

static int
buf_sink(const char *data, size_t size, void *ud)
{
    return mcp__buf_append(ud, data, size) == MCP_OK ? 0 : -1;
}

/* jansson's own dump of v (one pass into a growing buffer; json_dumpb() would need a sizing
 * pass first). */
static bool
jansson_dump_into(mcp_buf *b, const json_t *v)
{
    return json_dump_callback(v, buf_sink, b, JSON_COMPACT | JSON_ENCODE_ANY) == 0;
}

static bool
ascii_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

#define WRITE_MAX_DEPTH 32

/* mcp__buf_append with the common case inline: room in the buffer (and under its maximum). */
static inline mcp_status
put(mcp_buf *b, const char *s, size_t n)
{
    if (b->ptr != NULL && n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->ptr + b->len, s, n);
        b->len += n;
        b->ptr[b->len] = '\0';
        return MCP_OK;
    }
    return mcp__buf_append(b, s, n);
}

/*
 * Our outgoing JSON (issue 15): the same bytes as jansson's compact dump, written directly.
 * jansson's dumper checks every object and array for loops (it formats the container's address
 * and keeps it in a hash table), which made it the largest cost of a response. Written here:
 * objects (insertion order, as jansson), arrays, ASCII strings and keys (jansson's escapes:
 * mcp__json_escape_into), integers, true, false, null. Left to jansson, value by value: reals
 * (its number format), strings with non-ASCII bytes (its UTF-8 check), an object with a
 * non-ASCII key, and anything deeper than WRITE_MAX_DEPTH (its loop check: a cycle still fails).
 */
static bool
write_value(mcp_buf *b, const json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth >= WRITE_MAX_DEPTH)
            return jansson_dump_into(b, v);
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            if (!ascii_only(k, strlen(k)))
                return jansson_dump_into(b, v);
        }
        bool first = true;
        if (put(b, "{", 1) != MCP_OK)
            return false;
        json_object_foreach((json_t *)v, k, m) {
            if ((!first && put(b, ",", 1) != MCP_OK) ||
                put(b, "\"", 1) != MCP_OK ||
                mcp__json_escape_into(b, k, strlen(k)) != MCP_OK ||
                put(b, "\":", 2) != MCP_OK || !write_value(b, m, depth + 1))
                return false;
            first = false;
        }
        return put(b, "}", 1) == MCP_OK;
    }
    case JSON_ARRAY: {
        if (depth >= WRITE_MAX_DEPTH)
            return jansson_dump_into(b, v);
        if (put(b, "[", 1) != MCP_OK)
            return false;
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++)
            if ((i > 0 && put(b, ",", 1) != MCP_OK) ||
                !write_value(b, json_array_get(v, i), depth + 1))
                return false;
        return put(b, "]", 1) == MCP_OK;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (!ascii_only(s, n))
            return jansson_dump_into(b, v);
        return put(b, "\"", 1) == MCP_OK && mcp__json_escape_into(b, s, n) == MCP_OK &&
               put(b, "\"", 1) == MCP_OK;
    }
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(v);
        unsigned long long u = x < 0 ? 0ull - (unsigned long long)x : (unsigned long long)x;
        char num[24], *e = num + sizeof num, *p = e;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (x < 0)
            *--p = '-';
        return put(b, p, (size_t)(e - p)) == MCP_OK;
    }
    case JSON_TRUE:
        return put(b, "true", 4) == MCP_OK;
    case JSON_FALSE:
        return put(b, "false", 5) == MCP_OK;
    case JSON_NULL:
        return put(b, "null", 4) == MCP_OK;
    default:                                  /* JSON_REAL */
        return jansson_dump_into(b, v);
    }
}

static bool
dump_into(mcp_buf *b, const json_t *v)
{
    size_t start = b->len;
    bool ok = v != NULL && write_value(b, v, 0);
    if (!ok && b->ptr != NULL) {              /* nothing half-written stays */
        b->len = start;
        b->ptr[start] = '\0';
    }
    return ok;
}

bool
mcp__json_dump_into(mcp_buf *b, const json_t *v)
{
    return dump_into(b, v);
}

mcp_status
mcp__json_escape_into(mcp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        char u[7];
        const char *esc = u;
        size_t elen = 2;
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[ch >> 4];
            u[5] = hex[ch & 15];
            elen = 6;
        }
        mcp_status rc = put(b, s + start, i - start);
        if (rc == MCP_OK)
            rc = put(b, esc, elen);
        if (rc != MCP_OK)
            return rc;
        start = i + 1;
    }
    return put(b, s + start, n - start);
}

char *
mcp__json_dump(const json_t *v, size_t *len)
{
    mcp_buf b;
    mcp__buf_init(&b, 0);
    if (!dump_into(&b, v)) {
        mcp__buf_cleanup(&b);
        return NULL;
    }
    return mcp__buf_steal(&b, len);
}

static char *
envelope(json_t *obj, size_t *len)
{
    char *s = obj != NULL ? mcp__json_dump(obj, len) : NULL;
    json_decref(obj);
    return s;
}

char *
mcp__rpc_result(const json_t *id, json_t *result, size_t *len)
{
    /* The hot path: write the envelope around the dumped result instead of building an
     * envelope object and dumping that (saves an object, a hash table and a copy). */
    if (result == NULL)
        return NULL;
    mcp_buf b;
    mcp__buf_init(&b, 0);
    bool ok = mcp__buf_appends(&b, "{\"jsonrpc\":\"2.0\",\"id\":") == MCP_OK &&
              dump_into(&b, id) && mcp__buf_appends(&b, ",\"result\":") == MCP_OK &&
              dump_into(&b, result) && mcp__buf_append(&b, "}", 1) == MCP_OK;
    json_decref(result);
    if (!ok) {
        mcp__buf_cleanup(&b);
        return NULL;
    }
    return mcp__buf_steal(&b, len);
}

char *
mcp__rpc_result_tail(const json_t *id, json_t *result, const char *tail, size_t tlen,
                     size_t *len)
{
    if (result == NULL)
        return NULL;
    mcp_buf b;
    mcp__buf_init(&b, 0);
    bool ok = json_is_object(result) &&
              mcp__buf_appends(&b, "{\"jsonrpc\":\"2.0\",\"id\":") == MCP_OK &&
              dump_into(&b, id) && mcp__buf_appends(&b, ",\"result\":") == MCP_OK &&
              dump_into(&b, result) && b.len > 0 && b.ptr[b.len - 1] == '}';
    if (ok && tlen > 0) {
        b.len--;                          /* reopen the result object */
        bool empty = b.ptr[b.len - 1] == '{';
        ok = (empty || mcp__buf_append(&b, ",", 1) == MCP_OK) &&
             mcp__buf_append(&b, tail, tlen) == MCP_OK && mcp__buf_append(&b, "}", 1) == MCP_OK;
    }
    ok = ok && mcp__buf_append(&b, "}", 1) == MCP_OK;
    json_decref(result);
    if (!ok) {
        mcp__buf_cleanup(&b);
        return NULL;
    }
    return mcp__buf_steal(&b, len);
}

char *
mcp__rpc_result_raw(const json_t *id, const char *result, size_t rlen, size_t *len)
{
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":", mid[] = ",\"result\":";
    mcp_buf idb;
    mcp__buf_init(&idb, 0);
    if (!dump_into(&idb, id)) {
        mcp__buf_cleanup(&idb);
        return NULL;
    }
    size_t n = sizeof head - 1 + idb.len + sizeof mid - 1 + rlen + 1;
    char *out = mcp__alloc(n + 1);
    if (out != NULL) {
        char *w = out;
        memcpy(w, head, sizeof head - 1);
        w += sizeof head - 1;
        memcpy(w, idb.ptr, idb.len);
        w += idb.len;
        memcpy(w, mid, sizeof mid - 1);
        w += sizeof mid - 1;
        memcpy(w, result, rlen);
        w += rlen;
        *w++ = '}';
        *w = '\0';
        *len = n;
    }
    mcp__buf_cleanup(&idb);
    return out;
}

char *
mcp__rpc_error(const json_t *id, int32_t code, const char *message, json_t *data, size_t *len)
{
    json_t *e = json_pack("{s:i, s:s}", "code", (json_int_t)code, "message", message);
    if (e != NULL && data != NULL)
        json_object_set_new(e, "data", data);
    else
        json_decref(data);
    if (e == NULL)
        return NULL;
    json_t *idv = id != NULL ? json_incref((json_t *)id) : json_null();
    return envelope(json_pack("{s:s, s:o, s:o}", "jsonrpc", "2.0", "id", idv, "error", e), len);
}

char *
mcp__rpc_error_noid(const json_t *id, int32_t code, const char *message, json_t *data,
                    size_t *len)
{
    if (id != NULL)
        return mcp__rpc_error(id, code, message, data, len);
    json_t *e = json_pack("{s:i, s:s}", "code", (json_int_t)code, "message", message);
    if (e != NULL && data != NULL)
        json_object_set_new(e, "data", data);
    else
        json_decref(data);
    if (e == NULL)
        return NULL;
    return envelope(json_pack("{s:s, s:o}", "jsonrpc", "2.0", "error", e), len);
}

char *
mcp__rpc_notification(const char *method, json_t *params, size_t *len)
{
    json_t *m = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    if (m != NULL && params != NULL)
        json_object_set_new(m, "params", params);
    else
        json_decref(params);
    return envelope(m, len);
}

char *
mcp__rpc_request(const json_t *id, const char *method, json_t *params, size_t *len)
{
    json_t *m = json_pack("{s:s, s:O, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
    if (m != NULL && params != NULL)
        json_object_set_new(m, "params", params);
    else
        json_decref(params);
    return envelope(m, len);
}

mcp_status
mcp__rpc_classify(const json_t *msg, mcp__rpc_msg *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(msg))
        return MCP_ERR_PARSE;
    json_t *m = json_object_get(msg, "method");
    json_t *id = json_object_get(msg, "id");
    if (json_is_string(m)) {
        out->kind = id != NULL && !json_is_null(id) ? MCP__RPC_REQUEST : MCP__RPC_NOTIFICATION;
        out->method = json_string_value(m);
        out->id = out->kind == MCP__RPC_REQUEST ? id : NULL;
        out->params = json_object_get(msg, "params");
        return MCP_OK;
    }
    if (id == NULL)
        return MCP_ERR_PARSE;
    out->kind = MCP__RPC_RESPONSE;
    out->id = id;
    out->result = json_object_get(msg, "result");
    out->error = json_object_get(msg, "error");
    return MCP_OK;
}

bool
mcp__rpc_is_response_to(const json_t *msg, json_int_t id)
{
    if (!json_is_object(msg) || json_object_get(msg, "method") != NULL)
        return false;
    const json_t *jid = json_object_get(msg, "id");
    return json_is_integer(jid) && json_integer_value(jid) == id &&
           (json_object_get(msg, "result") != NULL || json_object_get(msg, "error") != NULL);
}

void
mcp__rpc_error_parts(const json_t *error, json_int_t *code, const char **message)
{
    const json_t *c = json_object_get(error, "code");
    const json_t *m = json_object_get(error, "message");
    *code = json_is_integer(c) ? json_integer_value(c) : MCP_RPC_INTERNAL_ERROR;
    *message = json_is_string(m) ? json_string_value(m) : NULL;
}
