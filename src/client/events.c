/*
 * The event queue between the transports and the session, and the JSON-RPC error code -> status
 * mapping the session applies to error responses.
 *
 * Transports never call into the session: they parse what arrives and queue it here (a message,
 * an exchange finished, the transport died); the session drains the queue after pump() returns.
 * That keeps callbacks (curl's, the application's) from re-entering the transport, and lets the
 * HTTP and stdio transports share one way of reporting.
 */
#include "client/internal.h"

#include <stdio.h>

/* ------------------------------------------------------------------------------------------ */
/* event queue                                                                                */

mcp__event *
mcp__event_new(mcp__ev_type type)
{
    mcp__event *ev = mcp__calloc(1, sizeof *ev);
    if (ev != NULL)
        ev->type = type;
    return ev;
}

void
mcp__event_free(mcp__event *ev)
{
    if (ev == NULL)
        return;
    json_decref(ev->msg);
    mcp__free(ev->www_auth);
    mcp__free(ev->dpop_nonce);
    mcp__free(ev);
}

void
mcp__evq_push(mcp__evq *q, mcp__event *ev)
{
    ev->next = NULL;
    if (q->tail != NULL)
        q->tail->next = ev;
    else
        q->head = ev;
    q->tail = ev;
}

mcp__event *
mcp__evq_pop(mcp__evq *q)
{
    mcp__event *ev = q->head;
    if (ev != NULL) {
        q->head = ev->next;
        if (q->head == NULL)
            q->tail = NULL;
        ev->next = NULL;
    }
    return ev;
}

mcp_status
mcp__evq_push_message(mcp__evq *q, json_t *msg)
{
    if (json_is_array(msg)) {                /* a 2025-03-26 batch: one event per element */
        size_t i;
        json_t *e;
        mcp_status rc = MCP_OK;
        json_array_foreach(msg, i, e) {
            mcp__event *ev = mcp__event_new(MCP__EV_MESSAGE);
            if (ev == NULL) {
                rc = MCP_ERR_NOMEM;
                break;
            }
            ev->msg = json_incref(e);
            mcp__evq_push(q, ev);
        }
        json_decref(msg);
        return rc;
    }
    mcp__event *ev = mcp__event_new(MCP__EV_MESSAGE);
    if (ev == NULL) {
        json_decref(msg);
        return MCP_ERR_NOMEM;
    }
    ev->msg = msg;
    mcp__evq_push(q, ev);
    return MCP_OK;
}

mcp__event *
mcp__evq_push_event(mcp__evq *q, mcp__ev_type type, uint64_t oid, mcp_status status,
                    const char *msg)
{
    mcp__event *ev = mcp__event_new(type);
    if (ev == NULL)
        return NULL;
    ev->oid = oid;
    ev->status = status;
    if (msg != NULL)                          /* truncation intended: a one-line reason */
        snprintf(ev->message, sizeof ev->message, "%.*s", (int)sizeof ev->message - 1, msg);
    mcp__evq_push(q, ev);
    return ev;
}

mcp_status
mcp__rpc_code_status(json_int_t code)
{
    switch (code) {
    case -32601:
    case -32002:
        return MCP_ERR_NOT_FOUND;
    case -32602:
        return MCP_ERR_INVALID_ARG;
    case -32001:
        return MCP_ERR_UNAUTHENTICATED;
    case -32003:
        return MCP_ERR_FORBIDDEN;
    default:
        return MCP_ERR_PROTOCOL;
    }
}
