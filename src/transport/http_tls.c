/*
 * TLS credentials of the HTTP transport, and their reload without a restart.
 *
 * libmicrohttpd 0.9.75 (Debian 12) loads MHD_OPTION_HTTPS_MEM_CERT/KEY once, into GnuTLS
 * credentials it owns, and has no call to replace them in a running daemon. What it does offer
 * is MHD_OPTION_HTTPS_CERT_CALLBACK: a GnuTLS gnutls_certificate_retrieve_function2 asked for
 * the certificate chain and key during every handshake. So the transport parses the PEM files
 * itself (GnuTLS, the library libmicrohttpd is built on), hands them out from that callback,
 * and a reload parses the new pair, checks it, and swaps one pointer: handshakes after the swap
 * get the new certificate, connections already established keep theirs.
 *
 * The callback has no user pointer. It finds its transport by the local port of the connection
 * (the socket GnuTLS reads from, gnutls_transport_get_int): a small process-wide list of the
 * TLS transports, under one mutex, consulted once per handshake.
 *
 * A replaced set is not freed until the transport is: GnuTLS keeps pointers into it for the
 * sessions that used it (and the callback contract says it never frees them). At most
 * MAX_RETIRED replaced sets are kept; past that a reload is refused (restart the server).
 */
#include "transport/internal.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_CHAIN   16          /* certificates in one chain */
#define MAX_RETIRED 64          /* replaced credential sets kept until the transport is freed */
#define MAX_PEM     (1u << 20)

typedef struct creds {
    gnutls_pcert_st  pcert[MAX_CHAIN];
    unsigned         npcert;
    gnutls_privkey_t key;
    struct creds    *retired_next;
} creds;

struct mcp__http_tls {
    char              *cert_path, *key_path;
    uint16_t           port;           /* 0 until registered */
    creds             *current;        /* under reg_mu */
    creds             *retired;        /* under reg_mu */
    unsigned           nretired;
    unsigned           reloads;        /* successful reloads */
    pthread_mutex_t    reload_mu;      /* one reload at a time */
    struct mcp__http_tls *next;        /* the registry */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mcp__http_tls *reg_head;

static void
creds_free(creds *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->npcert; i++)
        gnutls_pcert_deinit(&c->pcert[i]);
    if (c->key != NULL)
        gnutls_privkey_deinit(c->key);
    mcp__free(c);
}

/* A PEM file into a buffer (at most 1 MiB); err names the flag and the file. */
static mcp_status
read_file(const char *path, const char *what, gnutls_datum_t *out, mcp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mcp_error_set(err, MCP_ERR_IO, "%s %s: %s", what, path, strerror(errno));
    unsigned char *buf = mcp__alloc(MAX_PEM + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_PEM + 1, f) : 0;
    bool bad = buf != NULL && ferror(f) != 0;
    fclose(f);
    if (buf == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (bad || n > MAX_PEM || n == 0) {
        mcp_memzero(buf, MAX_PEM + 1);
        mcp__free(buf);
        return mcp_error_set(err, bad ? MCP_ERR_IO : MCP_ERR_INVALID_ARG, "%s %s: %s", what,
                             path, bad ? "read error" : n == 0 ? "empty" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    out->data = buf;
    out->size = (unsigned)n;
    return MCP_OK;
}

static void
datum_wipe(gnutls_datum_t *d)
{
    if (d->data != NULL) {
        mcp_memzero(d->data, d->size);
        mcp__free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

/* The DER SubjectPublicKeyInfo of a public key into *out (gnutls_free), or false. */
static bool
spki(gnutls_pubkey_t pub, gnutls_datum_t *out)
{
    return gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out) == GNUTLS_E_SUCCESS;
}

/* Parse and check a certificate chain and its key: both PEM, the key matching the first
 * certificate. err names the file at fault and GnuTLS's reason. */
static mcp_status
creds_load(const char *cert_path, const char *key_path, creds **out, mcp_error *err)
{
    gnutls_datum_t cd = { NULL, 0 }, kd = { NULL, 0 }, a = { NULL, 0 }, b = { NULL, 0 };
    gnutls_pubkey_t pub = NULL;
    creds *c = NULL;
    mcp_status rc = read_file(cert_path, "--tls-cert", &cd, err);
    if (rc == MCP_OK)
        rc = read_file(key_path, "--tls-key", &kd, err);
    if (rc != MCP_OK)
        goto out;
    if ((c = mcp__calloc(1, sizeof *c)) == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        goto out;
    }
    unsigned n = MAX_CHAIN;
    int g = gnutls_pcert_list_import_x509_raw(c->pcert, &n, &cd, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || n == 0) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "--tls-cert %s: %s", cert_path,
                           g < 0 ? gnutls_strerror(g) : "no certificate");
        goto out;
    }
    c->npcert = n;
    if ((g = gnutls_privkey_init(&c->key)) < 0 ||
        (g = gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "--tls-key %s: %s", key_path,
                           gnutls_strerror(g));
        goto out;
    }
    if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, c->key, 0, 0) < 0 ||
        !spki(pub, &a) || !spki(c->pcert[0].pubkey, &b)) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "--tls-key %s: cannot read its public key",
                           key_path);
        goto out;
    }
    if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "--tls-key %s is not the key of "
                           "--tls-cert %s", key_path, cert_path);
        goto out;
    }
    *out = c;
    c = NULL;
out:
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (pub != NULL)
        gnutls_pubkey_deinit(pub);
    creds_free(c);
    datum_wipe(&cd);
    datum_wipe(&kd);
    return rc;
}

/* The local port of a socket, or 0. */
static uint16_t
local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)(void *)&ss)->sin_port);
}

/* The certificate callback: the current set of the transport listening on this socket's port. */
static int
retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
         unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)req_ca_rdn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    uint16_t port = local_port(gnutls_transport_get_int(s));
    if (port == 0)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&reg_mu);
    for (struct mcp__http_tls *t = reg_head; t != NULL; t = t->next)
        if (t->port == port && t->current != NULL) {
            *pcert = t->current->pcert;
            *pcert_length = t->current->npcert;
            *pkey = t->current->key;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    return rc;          /* no transport on that port: the handshake fails (fail closed) */
}

void *
mcp__http_tls_callback(void)
{
    return (void *)(gnutls_certificate_retrieve_function2 *)retrieve;
}

mcp_status
mcp__http_tls_new(const char *cert_path, const char *key_path, mcp__http_tls **out,
                  mcp_error *err)
{
    *out = NULL;
    if (MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES)
        return mcp_error_set(err, MCP_ERR_UNSUPPORTED, "this libmicrohttpd has no "
                             "certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK)");
    mcp__http_tls *t = mcp__calloc(1, sizeof *t);
    if (t == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    pthread_mutex_init(&t->reload_mu, NULL);
    if ((t->cert_path = mcp__strdup(cert_path)) == NULL ||
        (t->key_path = mcp__strdup(key_path)) == NULL) {
        mcp__http_tls_free(t);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    mcp_status rc = creds_load(cert_path, key_path, &t->current, err);
    if (rc != MCP_OK) {
        char why[MCP_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err != NULL ? err->message : "");
        mcp__http_tls_free(t);
        return mcp_error_set(err, rc, "TLS setup failed: %s", why);
    }
    *out = t;
    return MCP_OK;
}

void
mcp__http_tls_register(mcp__http_tls *t, int lfd)
{
    pthread_mutex_lock(&reg_mu);
    t->port = local_port(lfd);
    t->next = reg_head;
    reg_head = t;
    pthread_mutex_unlock(&reg_mu);
}

void
mcp__http_tls_free(mcp__http_tls *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&reg_mu);
    for (mcp__http_tls **p = &reg_head; *p != NULL; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    creds_free(t->current);
    while (t->retired != NULL) {
        creds *c = t->retired;
        t->retired = c->retired_next;
        creds_free(c);
    }
    pthread_mutex_destroy(&t->reload_mu);
    mcp__free(t->cert_path);
    mcp__free(t->key_path);
    mcp__free(t);
}

mcp_status
mcp__http_tls_reload(mcp__http_tls *t, mcp_error *err)
{
    pthread_mutex_lock(&t->reload_mu);
    creds *c = NULL;
    mcp_status rc = t->nretired >= MAX_RETIRED
                    ? mcp_error_set(err, MCP_ERR_TOO_LARGE, "reloaded %u times already; "
                                    "restart the server to reload again", MAX_RETIRED)
                    : creds_load(t->cert_path, t->key_path, &c, err);
    if (rc == MCP_OK) {
        pthread_mutex_lock(&reg_mu);
        t->current->retired_next = t->retired;
        t->retired = t->current;
        t->current = c;
        t->nretired++;
        pthread_mutex_unlock(&reg_mu);
        t->reloads++;
    }
    pthread_mutex_unlock(&t->reload_mu);
    return rc;
}
