/*
 * A scripted RFC 7662 introspection endpoint for tests: a real libmicrohttpd server on
 * 127.0.0.1 (port 0) that records what it was sent and answers what the test set.
 * Header-only (static functions) so each test executable gets its own copy.
 */
#ifndef TEST_INTROSPECT_UTIL_H
#define TEST_INTROSPECT_UTIL_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GNUC__)
#define FAKE_UNUSED __attribute__((unused))
#else
#define FAKE_UNUSED
#endif

typedef struct fake_as {
    struct MHD_Daemon *d;
    uint16_t port;
    char url[96];
    pthread_mutex_t mu;
    char *body;            /* answer when the token matches (or when good_token is NULL) */
    char *good_token;      /* when set, other tokens get {"active":false} */
    unsigned status;
    unsigned delay_ms;
    unsigned requests;
    char last_auth[512];
    char last_ctype[128];
    char last_method[16];
    char last_body[8192];
} fake_as;

typedef struct fake_conn {
    char   buf[8192];
    size_t len;
    bool   overflow;
} fake_conn;

FAKE_UNUSED static void
fake_sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

FAKE_UNUSED static void
fake_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    free(*con_cls);
    *con_cls = NULL;
}

FAKE_UNUSED static enum MHD_Result
fake_serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url, (void)version;
    fake_as *s = cls;
    fake_conn *fc = *con_cls;
    if (fc == NULL) {
        fc = calloc(1, sizeof *fc);
        if (fc == NULL)
            return MHD_NO;
        *con_cls = fc;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (fc->len + *upload_size < sizeof fc->buf) {
            memcpy(fc->buf + fc->len, upload, *upload_size);
            fc->len += *upload_size;
        } else {
            fc->overflow = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    pthread_mutex_lock(&s->mu);
    s->requests++;
    snprintf(s->last_auth, sizeof s->last_auth, "%s", auth ? auth : "");
    snprintf(s->last_ctype, sizeof s->last_ctype, "%s", ct ? ct : "");
    snprintf(s->last_method, sizeof s->last_method, "%s", method);
    snprintf(s->last_body, sizeof s->last_body, "%.*s", (int)fc->len, fc->buf);
    const char *answer = s->body ? s->body : "{\"active\":false}";
    if (s->good_token != NULL) {
        char want[1024];
        snprintf(want, sizeof want, "token=%s&", s->good_token);
        if (strncmp(s->last_body, want, strlen(want)) != 0)
            answer = "{\"active\":false}";
    }
    char *copy = strdup(answer);
    unsigned status = s->status, delay = s->delay_ms;
    pthread_mutex_unlock(&s->mu);
    if (delay > 0)
        fake_sleep_ms(delay);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(copy), copy,
                                                             MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

FAKE_UNUSED static void
fake_as_set(fake_as *s, unsigned status, const char *body)
{
    pthread_mutex_lock(&s->mu);
    free(s->body);
    s->body = body ? strdup(body) : NULL;
    s->status = status;
    pthread_mutex_unlock(&s->mu);
}

FAKE_UNUSED static void
fake_as_set_good_token(fake_as *s, const char *tok)
{
    pthread_mutex_lock(&s->mu);
    free(s->good_token);
    s->good_token = tok ? strdup(tok) : NULL;
    pthread_mutex_unlock(&s->mu);
}

FAKE_UNUSED static void
fake_as_set_delay(fake_as *s, unsigned ms)
{
    pthread_mutex_lock(&s->mu);
    s->delay_ms = ms;
    pthread_mutex_unlock(&s->mu);
}

FAKE_UNUSED static unsigned
fake_as_requests(fake_as *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Returns 0 on success. */
FAKE_UNUSED static int
fake_as_start(fake_as *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->status = 200;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, fake_serve, s, MHD_OPTION_SOCK_ADDR,
                            (const struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, fake_done,
                            s, MHD_OPTION_END);
    if (s->d == NULL)
        return -1;
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/token/introspection", (unsigned)s->port);
    return 0;
}

FAKE_UNUSED static void
fake_as_stop(fake_as *s)
{
    if (s->d != NULL)
        MHD_stop_daemon(s->d);
    s->d = NULL;
}

FAKE_UNUSED static void
fake_as_free(fake_as *s)
{
    fake_as_stop(s);
    free(s->body);
    free(s->good_token);
    pthread_mutex_destroy(&s->mu);
}

#endif
