/* Test helpers: a real server on 127.0.0.1 (port 0) and a libcurl client. Header-only. */
#ifndef MCP_TEST_HARNESS_H
#define MCP_TEST_HARNESS_H

#if defined(__GNUC__)
#define TH_UNUSED __attribute__((unused))
#else
#define TH_UNUSED
#endif

#include <arpa/inet.h>
#include <curl/curl.h>
#include <mcp/mcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct http_resp {
    long   status;
    char  *body;
    size_t len;
    char   headers[4096];
    size_t hlen;
} http_resp;

static TH_UNUSED size_t
th_body_cb(char *p, size_t sz, size_t n, void *ud)
{
    http_resp *r = ud;
    size_t k = sz * n;
    char *nb = realloc(r->body, r->len + k + 1);
    if (nb == NULL)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static TH_UNUSED size_t
th_hdr_cb(char *p, size_t sz, size_t n, void *ud)
{
    http_resp *r = ud;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->headers) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

/* Perform a request; extra headers NULL-terminated. Returns 0 on transport success. */
static TH_UNUSED int
th_request(const char *method, const char *url, const char *body, const char *const *hdrs,
           http_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    for (const char *const *p = hdrs; p && *p; p++)
        h = curl_slist_append(h, *p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, th_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, th_hdr_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return cc == CURLE_OK ? 0 : -1;
}

static TH_UNUSED void
th_resp_free(http_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Value of a response header (case-insensitive name), copied into out. */
static TH_UNUSED int
th_header(const http_resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = r->headers;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r\n");
            if (k >= cap)
                k = cap - 1;
            memcpy(out, v, k);
            out[k] = '\0';
            return 0;
        }
    }
    return -1;
}

/* Raw bytes over TCP to 127.0.0.1:port; returns the first response line's status or -1. */
static TH_UNUSED int
th_raw(uint16_t port, const char *bytes, char *reply, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    if (write(fd, bytes, strlen(bytes)) < 0) {
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, reply, cap - 1);
    close(fd);
    if (n <= 0)
        return -1;
    reply[n] = '\0';
    int status = -1;
    if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* Serve srv on 127.0.0.1 (a free port, no access log) and write its /mcp URL into url.
 * max_body / io_threads: 0 keeps the default. Returns 0, or -1 when it cannot listen. */
static TH_UNUSED int
th_listen(mcp_server *srv, size_t max_body, unsigned io_threads, char *url, size_t cap)
{
    mcp_http_opts ho;
    mcp_error err;
    mcp_http_opts_default(&ho);
    ho.port = 0;
    ho.access_log = false;
    if (max_body)
        ho.max_body = max_body;
    if (io_threads)
        ho.io_threads = io_threads;
    if (mcp_server_listen_http(srv, &ho, &err) != MCP_OK)
        return -1;
    snprintf(url, cap, "http://127.0.0.1:%u/mcp", mcp_server_http_port(srv));
    return 0;
}

/* mcp_server_run_until_signal(srv, grace) on a thread: pthread_create(&t, NULL, th_run_main,
 * &runner); mcp_server_stop(srv) makes it return. */
typedef struct th_runner {
    mcp_server *srv;
    unsigned    grace;
} th_runner;

static TH_UNUSED void *
th_run_main(void *arg)
{
    th_runner *r = arg;
    mcp_error err;
    mcp_server_run_until_signal(r->srv, r->grace, &err);
    return NULL;
}

#endif
