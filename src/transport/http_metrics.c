/*
 * Prometheus text exposition (format 0.0.4) of the HTTP transport's counters: requests by
 * method and status, authentication / authorization refusals by reason, a latency histogram,
 * open sessions and requests in flight. Recording is a handful of relaxed atomic increments
 * per request (no lock on the hot path); rendering reads them without stopping anything, so a
 * scrape is a consistent-enough snapshot, as Prometheus expects of counters.
 */
#include "transport/internal.h"

#include <string.h>

static const unsigned STATUSES[MCP__METRIC_NSTATUS - 1] = {
    200, 202, 204, 400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 500, 503, 504
};
static const char *const METHODS[MCP__METRIC_NMETHOD] = { "GET", "POST", "DELETE", "HEAD",
                                                          "other" };
/* upper bounds of the latency buckets, in milliseconds (the exposition is in seconds) */
static const unsigned BOUNDS_MS[MCP__METRIC_NBUCKET] = { 5, 10, 25, 50, 100, 250, 500, 1000,
                                                         2500, 5000, 10000 };

static size_t
status_index(unsigned status)
{
    for (size_t i = 0; i < MCP__METRIC_NSTATUS - 1; i++)
        if (STATUSES[i] == status)
            return i;
    return MCP__METRIC_NSTATUS - 1;                  /* "other" */
}

static size_t
method_index(const char *m)
{
    for (size_t i = 0; m != NULL && i < MCP__METRIC_NMETHOD - 1; i++)
        if (strcmp(m, METHODS[i]) == 0)
            return i;
    return MCP__METRIC_NMETHOD - 1;
}

void
mcp__http_metrics_record(mcp__http_metrics *m, const char *method, unsigned status, uint64_t ms)
{
    atomic_fetch_add_explicit(&m->requests[method_index(method)][status_index(status)], 1,
                              memory_order_relaxed);
    size_t b = 0;
    while (b < MCP__METRIC_NBUCKET && ms > BOUNDS_MS[b])
        b++;
    atomic_fetch_add_explicit(&m->latency[b], 1, memory_order_relaxed);   /* b = NBUCKET: +Inf */
    atomic_fetch_add_explicit(&m->latency_sum_ms, ms, memory_order_relaxed);
}

static uint64_t
ld(const atomic_uint_fast64_t *v)
{
    return (uint64_t)atomic_load_explicit(v, memory_order_relaxed);
}

char *
mcp__http_metrics_render(mcp__http *h, size_t *len)
{
    mcp__http_metrics *m = &h->metrics;
    mcp_buf b;
    mcp__buf_init(&b, 1u << 20);
    mcp_status rc = mcp__buf_appends(&b,
        "# HELP mcp_http_requests_total HTTP requests answered, by method and status.\n"
        "# TYPE mcp_http_requests_total counter\n");
    uint64_t st[MCP__METRIC_NSTATUS] = { 0 };
    for (size_t i = 0; i < MCP__METRIC_NMETHOD; i++)
        for (size_t j = 0; j < MCP__METRIC_NSTATUS; j++) {
            uint64_t n = ld(&m->requests[i][j]);
            st[j] += n;
            if (n == 0 || rc != MCP_OK)
                continue;
            char code[8];
            if (j < MCP__METRIC_NSTATUS - 1)
                snprintf(code, sizeof code, "%u", STATUSES[j]);
            else
                snprintf(code, sizeof code, "other");
            rc = mcp__buf_printf(&b, "mcp_http_requests_total{method=\"%s\",status=\"%s\"} "
                                 "%llu\n", METHODS[i], code, (unsigned long long)n);
        }
    /* the transport's refusals as the caller sees them: 401 is authentication's, 403
     * authorization's (or a transport check's), 429 a rate limit's */
    if (rc == MCP_OK)
        rc = mcp__buf_printf(&b,
            "# HELP mcp_auth_refusals_total Requests refused, by reason (unauthenticated: 401, "
            "forbidden: 403, rate_limited: 429).\n"
            "# TYPE mcp_auth_refusals_total counter\n"
            "mcp_auth_refusals_total{reason=\"unauthenticated\"} %llu\n"
            "mcp_auth_refusals_total{reason=\"forbidden\"} %llu\n"
            "mcp_auth_refusals_total{reason=\"rate_limited\"} %llu\n",
            (unsigned long long)st[status_index(401)], (unsigned long long)st[status_index(403)],
            (unsigned long long)st[status_index(429)]);
    if (rc == MCP_OK)
        rc = mcp__buf_appends(&b,
            "# HELP mcp_http_request_duration_seconds Time from the request's headers to its "
            "completion.\n"
            "# TYPE mcp_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i <= MCP__METRIC_NBUCKET && rc == MCP_OK; i++) {
        cum += ld(&m->latency[i]);
        if (i < MCP__METRIC_NBUCKET)
            rc = mcp__buf_printf(&b, "mcp_http_request_duration_seconds_bucket{le=\"%u.%03u\"} "
                                 "%llu\n", BOUNDS_MS[i] / 1000, BOUNDS_MS[i] % 1000,
                                 (unsigned long long)cum);
        else
            rc = mcp__buf_printf(&b, "mcp_http_request_duration_seconds_bucket{le=\"+Inf\"} "
                                 "%llu\n", (unsigned long long)cum);
    }
    uint64_t sum = ld(&m->latency_sum_ms);
    if (rc == MCP_OK)
        rc = mcp__buf_printf(&b,
            "mcp_http_request_duration_seconds_sum %llu.%03llu\n"
            "mcp_http_request_duration_seconds_count %llu\n"
            "# HELP mcp_sessions_open Sessions currently open.\n"
            "# TYPE mcp_sessions_open gauge\n"
            "mcp_sessions_open %zu\n"
            "# HELP mcp_http_requests_in_flight Requests between their headers and completion.\n"
            "# TYPE mcp_http_requests_in_flight gauge\n"
            "mcp_http_requests_in_flight %d\n",
            (unsigned long long)(sum / 1000), (unsigned long long)(sum % 1000),
            (unsigned long long)cum, mcp__server_nsessions(h->srv),
            atomic_load(&h->nreqs));
    if (rc != MCP_OK) {
        mcp__buf_cleanup(&b);
        return NULL;
    }
    return mcp__buf_steal(&b, len);
}
