/*
 * Incremental Server-Sent Events parser (WHATWG HTML, "Interpreting an event stream").
 *
 * Bytes arrive in arbitrary chunks from libcurl, so a line, a CRLF pair or the UTF-8 BOM may be
 * split across calls. The parser keeps the unterminated tail in `line` and remembers a trailing
 * CR, so that an LF at the start of the next chunk is not read as a second (empty) line - which
 * would dispatch an event too early. Every buffer has a hard maximum (STYLE.md section 9).
 */
#include "client/internal.h"

#include <string.h>

#define SSE_ID_MAX 1024

void
mcp__sse_init(mcp__sse *p, size_t max, mcp__sse_event_fn fn, void *ctx)
{
    memset(p, 0, sizeof *p);
    mcp__buf_init(&p->line, max);
    mcp__buf_init(&p->data, max);
    mcp__buf_init(&p->event, 256);
    p->retry_ms = -1;
    p->max = max;
    p->fn = fn;
    p->ctx = ctx;
}

void
mcp__sse_cleanup(mcp__sse *p)
{
    mcp__buf_cleanup(&p->line);
    mcp__buf_cleanup(&p->data);
    mcp__buf_cleanup(&p->event);
    mcp__free(p->last_id);
    mcp__free(p->id_buf);
    p->last_id = p->id_buf = NULL;
}

static mcp_status
dispatch(mcp__sse *p)
{
    mcp_status rc = MCP_OK;
    /* The last event ID string is updated even when the event carries no data: a "priming"
     * event (id + empty data) exists precisely to give the client a resumption point. */
    if (p->id_buf != NULL && (p->last_id == NULL || strcmp(p->last_id, p->id_buf) != 0)) {
        char *copy = mcp__strdup(p->id_buf);
        if (copy == NULL)
            return MCP_ERR_NOMEM;
        mcp__free(p->last_id);
        p->last_id = copy;
    }
    if (p->data.len == 0) {
        mcp__buf_reset(&p->event);
        return MCP_OK;
    }
    size_t len = p->data.len;
    if (p->data.ptr[len - 1] == '\n')
        len--;
    p->data.ptr[len] = '\0';
    /* Empty data ("data:" alone) is a keep-alive/priming event: nothing to hand on. */
    if (len > 0) {
        const char *type = p->event.len > 0 ? p->event.ptr : "message";
        rc = p->fn(p->ctx, type, p->data.ptr, len, p->last_id);
    }
    mcp__buf_reset(&p->data);
    mcp__buf_reset(&p->event);
    return rc;
}

static bool
all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static mcp_status
process_line(mcp__sse *p, const char *line, size_t len)
{
    if (len == 0)
        return dispatch(p);
    if (line[0] == ':')
        return MCP_OK;                       /* comment */
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *val = colon ? colon + 1 : line + len;
    size_t vlen = colon ? len - flen - 1 : 0;
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (flen == 5 && memcmp(line, "event", 5) == 0) {
        mcp__buf_reset(&p->event);
        return mcp__buf_append(&p->event, val, vlen);
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        mcp_status rc = mcp__buf_append(&p->data, val, vlen);
        return rc != MCP_OK ? rc : mcp__buf_append(&p->data, "\n", 1);
    }
    if (flen == 2 && memcmp(line, "id", 2) == 0) {
        if (memchr(val, '\0', vlen) != NULL)
            return MCP_OK;                   /* spec: ignore ids containing NUL */
        if (vlen > SSE_ID_MAX)
            return MCP_ERR_TOO_LARGE;
        char *id = mcp__strndup(val, vlen);
        if (id == NULL)
            return MCP_ERR_NOMEM;
        mcp__free(p->id_buf);
        p->id_buf = id;
        return MCP_OK;
    }
    if (flen == 5 && memcmp(line, "retry", 5) == 0) {
        if (all_digits(val, vlen) && vlen <= 9) {
            long v = 0;
            for (size_t i = 0; i < vlen; i++)
                v = v * 10 + (val[i] - '0');
            p->retry_ms = v;
        }
        return MCP_OK;
    }
    return MCP_OK;                           /* unknown field: ignored */
}

mcp_status
mcp__sse_feed(mcp__sse *p, const char *buf, size_t len)
{
    size_t i = 0;
    /* Strip one leading UTF-8 BOM, even if it arrives split over chunks. */
    static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };
    while (p->bom_seen < 3 && i < len) {
        if ((unsigned char)buf[i] == bom[p->bom_seen]) {
            p->bom_seen++;
            i++;
            continue;
        }
        if (p->bom_seen > 0) {
            /* A partial BOM that turned out not to be one: keep those bytes as content. */
            mcp_status rc = mcp__buf_append(&p->line, (const char *)bom, p->bom_seen);
            if (rc != MCP_OK)
                return rc;
        }
        p->bom_seen = 3;
    }
    if (p->bom_seen < 3)
        return MCP_OK;                       /* the whole chunk was (part of) a BOM */

    while (i < len) {
        char ch = buf[i];
        if (p->after_cr) {
            p->after_cr = false;
            if (ch == '\n') {                /* second half of a CRLF split across chunks */
                i++;
                continue;
            }
        }
        /* Find the next line terminator in this chunk. */
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r')
            j++;
        if (j == len) {                      /* no terminator: keep the tail for later */
            mcp_status rc = mcp__buf_append(&p->line, buf + i, len - i);
            return rc;
        }
        mcp_status rc;
        if (p->line.len > 0) {
            rc = mcp__buf_append(&p->line, buf + i, j - i);
            if (rc == MCP_OK)
                rc = process_line(p, p->line.ptr, p->line.len);
            mcp__buf_reset(&p->line);
        } else {
            if (j - i > p->max)
                return MCP_ERR_TOO_LARGE;
            rc = process_line(p, buf + i, j - i);
        }
        if (rc != MCP_OK)
            return rc;
        if (buf[j] == '\r') {
            if (j + 1 < len) {
                if (buf[j + 1] == '\n')
                    j++;
            } else {
                p->after_cr = true;
            }
        }
        i = j + 1;
    }
    return MCP_OK;
}
