/*
 * The OAuth client end to end against an in-process libmicrohttpd server on 127.0.0.1:0 that
 * plays both the MCP server (resource server) and the authorization server. Covers what the
 * conformance suite does not: reuse of the 0600 token cache by a second process-like client,
 * refresh (proactive on expiry and after a 401), the interactive loopback login, and the
 * refusals (no PKCE S256, state mismatch, metadata for another resource) - each of which must
 * stop before any authorization request or token request is made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/internal.h"
#include <mcp/jwt.h>
#include "jwt/jwt.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "test_mhd_util.h"

/* A_EVIL_AS: the PRM names another AS (at /evil-as on the same port; it counts every request
 * and any credential it receives). A_TWO_AS: the PRM names that one first, then the real one.
 * A_NO_PRM: no PRM (2025-03-26 server; the MCP server is its own AS). */
typedef enum {
    A_NORMAL, A_NO_S256, A_BAD_STATE, A_EVIL_RESOURCE, A_SHORT_TTL, A_EVIL_AS, A_TWO_AS, A_NO_PRM,
    A_REMOTE_AS, A_REMOTE_ENDPOINTS, A_DPOP, A_JWT_BEARER, A_DPOP_NONCE
} as_mode;
/* A_DPOP_NONCE: A_DPOP whose token endpoint wants the nonce "as-n1" and whose MCP server wants
 * "rs-n1" in the proofs (RFC 9449 sections 8 and 9), each announced by a use_dpop_nonce error. */
#define IS_DPOP(m) ((m) == A_DPOP || (m) == A_DPOP_NONCE)
/* A.migrated: the PRM names the second AS at /as2 (its own registration, client dcr-2). A_DPOP:
 * the MCP server challenges with the DPoP scheme and wants "Authorization: DPoP" plus a proof,
 * the AS advertises ES256 proofs and binds its tokens. A_JWT_BEARER: the AS takes only the
 * RFC 7523 grant with the assertion "workload-jwt". */
/* RFC 9207 variants of the AS (A.iss_mode): ISS_ADVERTISED_* put
 * authorization_response_iss_parameter_supported into its metadata. */
enum iss_modes {
    ISS_NONE = 0,           /* not advertised, no iss (the default) */
    ISS_ADVERTISED_MISSING, /* advertised, but the response carries no iss */
    ISS_ADVERTISED_WRONG,   /* advertised, iss names another issuer */
    ISS_ADVERTISED_RIGHT,   /* advertised, iss is the issuer */
    ISS_ADVERTISED_ERROR_NO_ISS, /* advertised; an error response (right state) without iss */
    ISS_FORGED_ERROR,       /* an error response with a state that is not ours */
    ISS_ADVERTISED_SLASH    /* advertised; iss is the issuer plus a trailing slash */
};
/* A_REMOTE_AS / A_REMOTE_ENDPOINTS: the server plays a remote MCP server named mcp.test (the
 * test maps that name to 127.0.0.1 with CURLOPT_RESOLVE): its PRM is for http://mcp.test:P/mcp
 * and names A.remote_as; with A_REMOTE_ENDPOINTS the AS is mcp.test itself but its metadata
 * puts every endpoint on http://127.0.0.1:P. /internal/admin plays a local service. */

#define CC_ID "cc-id"
#define CC_SECRET "cc-secret"
#define CC_BASIC "Basic Y2MtaWQ6Y2Mtc2VjcmV0"     /* base64("cc-id:cc-secret") */

static struct {
    pthread_mutex_t mu;
    as_mode m;
    unsigned port;
    int registers, authorizes, token_codes, token_refreshes, token_cc;
    int evil_requests, evil_credentials;
    int meta_hits, internal_hits;
    int iss_mode;          /* see iss_modes below */
    char remote_as[128];
    char challenge[64];
    char redirect_uri[256];
    char valid_token[64];
    char refresh_token[64];
    char last_scope[128];
    char last_resource[128];
    int next_token;
    bool migrated;
    int as2_registers, as2_tokens;
    char as2_client_id[64];        /* client_id of the last request at the second AS */
    int dpop_token_proofs;         /* token requests that carried a DPoP header */
    int dpop_good, dpop_bad;       /* MCP requests with a well-formed / missing-or-bad proof */
    char dpop_jtis[8][64];
    int jwt_bearer_ok;
    int as_nonce_challenges, rs_nonce_challenges;
} A;

/* The nonce claim of a proof (new string) or NULL. */
static char *
proof_nonce(const char *proof)
{
    char *hj = NULL, *pj = NULL;
    mcp_error e;
    if (proof == NULL || mcp_jwt_decode_unverified(proof, strlen(proof), &hj, &pj, &e) != MCP_OK)
        return NULL;
    json_error_t je;
    json_t *p = json_loads(pj, 0, &je);
    mcp_free(hj);
    mcp_free(pj);
    char *n = mcp__json_str(p, "nonce") ? mcp__strdup(mcp__json_str(p, "nonce")) : NULL;
    json_decref(p);
    return n;
}

static bool
nonce_is(const char *proof, const char *want)
{
    char *n = proof_nonce(proof);
    bool ok = n != NULL && strcmp(n, want) == 0;
    mcp__free(n);
    return ok;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body,
      const char *hname, const char *hval)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (hname)
        MHD_add_response_header(r, hname, hval);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Form field from an x-www-form-urlencoded body (decoded into out). */
static bool
form_get(const char *body, const char *name, char *out, size_t outsz)
{
    char probe[256];
    snprintf(probe, sizeof probe, "http://x/?%s", body ? body : "");
    char *v = mcp__url_query_param(probe, name);
    if (v == NULL)
        return false;
    snprintf(out, outsz, "%s", v);
    mcp__free(v);
    return true;
}

/* Verify an ES256 compact JWS with a P-256 public JWK (OpenSSL directly: a DPoP proof has no
 * exp, which the library's token verifier rightly insists on for access tokens). */
static bool
es256_verify(const char *jws, const json_t *jwk)
{
    unsigned char *x = NULL, *y = NULL, *sig = NULL;
    size_t xl = 0, yl = 0, sl = 0;
    const char *dot2 = strrchr(jws, '.');
    const char *xs = mcp__json_str(jwk, "x"), *ys = mcp__json_str(jwk, "y");
    bool ok = dot2 != NULL && xs != NULL && ys != NULL &&
              mcp__b64url_decode(xs, strlen(xs), &x, &xl) == MCP_OK && xl == 32 &&
              mcp__b64url_decode(ys, strlen(ys), &y, &yl) == MCP_OK && yl == 32 &&
              mcp__b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig, &sl) == MCP_OK && sl == 64;
    EVP_PKEY *k = NULL;
    if (ok) {
        unsigned char pub[65];
        pub[0] = 0x04;
        memcpy(pub + 1, x, 32);
        memcpy(pub + 33, y, 32);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string("group", (char *)"P-256", 0),
            OSSL_PARAM_construct_octet_string("pub", pub, sizeof pub),
            OSSL_PARAM_construct_end(),
        };
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        ok = pc != NULL && EVP_PKEY_fromdata_init(pc) == 1 &&
             EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    size_t derlen = 0;
    unsigned char *der = ok ? mcp__jwt_ecdsa_jose_to_der(sig, 32, &derlen) : NULL;
    if (ok) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md != NULL && der != NULL &&
             EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
             EVP_DigestVerify(md, der, derlen, (const unsigned char *)jws,
                              (size_t)(dot2 - jws)) == 1;
        EVP_MD_CTX_free(md);
    }
    EVP_PKEY_free(k);
    OPENSSL_free(der);
    mcp__free(x);
    mcp__free(y);
    mcp__free(sig);
    return ok;
}

/* A DPoP proof as RFC 9449 section 4.3 checks it: typ, alg, a public jwk, htm, htu, ath of
 * the token, a jti not seen before, and the signature (verified with the jwk). */
static bool
dpop_proof_ok(const char *proof, const char *htu, const char *token)
{
    char *hj = NULL, *pj = NULL;
    mcp_error e;
    if (proof == NULL ||
        mcp_jwt_decode_unverified(proof, strlen(proof), &hj, &pj, &e) != MCP_OK)
        return false;
    json_error_t je;
    json_t *h = json_loads(hj, 0, &je), *p = json_loads(pj, 0, &je);
    mcp_free(hj);
    mcp_free(pj);
    const json_t *jwk = json_object_get(h, "jwk");
    bool ok = h && p && strcmp(mcp__json_str(h, "typ") ? mcp__json_str(h, "typ") : "",
                               "dpop+jwt") == 0 &&
              strcmp(mcp__json_str(h, "alg") ? mcp__json_str(h, "alg") : "", "ES256") == 0 &&
              json_is_object(jwk) && json_object_get(jwk, "d") == NULL &&
              strcmp(mcp__json_str(p, "htm") ? mcp__json_str(p, "htm") : "", "POST") == 0 &&
              strcmp(mcp__json_str(p, "htu") ? mcp__json_str(p, "htu") : "", htu) == 0 &&
              mcp__json_str(p, "jti") != NULL;
    if (ok && token != NULL) {
        unsigned char d[32];
        EVP_Digest(token, strlen(token), d, NULL, EVP_sha256(), NULL);
        char *ath = mcp__b64url_encode(d, sizeof d);
        ok = ath != NULL && mcp__json_str(p, "ath") != NULL &&
             strcmp(mcp__json_str(p, "ath"), ath) == 0;
        mcp__free(ath);
    }
    if (ok) {
        for (int i = 0; i < 8; i++)
            if (strcmp(A.dpop_jtis[i], mcp__json_str(p, "jti")) == 0)
                ok = false;                       /* a replayed proof */
        for (int i = 0; ok && i < 8; i++)
            if (A.dpop_jtis[i][0] == '\0') {
                snprintf(A.dpop_jtis[i], sizeof A.dpop_jtis[i], "%s", mcp__json_str(p, "jti"));
                break;
            }
    }
    if (ok)                                       /* the signature, with the proof's own key */
        ok = es256_verify(proof, jwk);
    json_decref(h);
    json_decref(p);
    return ok;
}

static enum MHD_Result
mcp_endpoint(struct MHD_Connection *conn, req_ctx *c)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *proof = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "DPoP");
    char want[96];
    pthread_mutex_lock(&A.mu);
    snprintf(want, sizeof want, "%s %s", IS_DPOP(A.m) ? "DPoP" : "Bearer", A.valid_token);
    bool ok = A.valid_token[0] != '\0' && auth != NULL && strcmp(auth, want) == 0;
    unsigned port = A.port;
    if (ok && A.m == A_DPOP_NONCE && !nonce_is(proof, "rs-n1")) {
        A.rs_nonce_challenges++;
        pthread_mutex_unlock(&A.mu);
        char www[256];
        snprintf(www, sizeof www, "DPoP error=\"use_dpop_nonce\", resource_metadata="
                 "\"http://127.0.0.1:%u/.well-known/oauth-protected-resource/mcp\"", port);
        struct MHD_Response *r = MHD_create_response_from_buffer(
            strlen("{\"error\":\"use_dpop_nonce\"}"), (void *)"{\"error\":\"use_dpop_nonce\"}",
            MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "WWW-Authenticate", www);
        MHD_add_response_header(r, "DPoP-Nonce", "rs-n1");
        enum MHD_Result ret = MHD_queue_response(conn, 401, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (ok && IS_DPOP(A.m)) {
        char htu[96];
        snprintf(htu, sizeof htu, "http://127.0.0.1:%u/mcp", port);
        if (dpop_proof_ok(proof, htu, A.valid_token)) {
            A.dpop_good++;
        } else {
            A.dpop_bad++;
            ok = false;
        }
    }
    pthread_mutex_unlock(&A.mu);
    if (!ok) {
        char www[256];
        snprintf(www, sizeof www,
                 "%s error=\"invalid_token\", scope=\"mcp:read\", resource_metadata="
                 "\"http://127.0.0.1:%u/.well-known/oauth-protected-resource/mcp\"",
                 IS_DPOP(A.m) ? "DPoP" : "Bearer", port);
        if (A.m == A_NO_PRM)            /* a 2025-03-26 server names no metadata */
            snprintf(www, sizeof www, "Bearer error=\"invalid_token\"");
        return reply(conn, 401, "application/json", "{\"error\":\"invalid_token\"}",
                     "WWW-Authenticate", www);
    }
    json_error_t je;
    json_t *m = json_loadb(c->body ? c->body : "", c->len, 0, &je);
    const char *method = json_string_value(json_object_get(m, "method"));
    json_int_t id = json_integer_value(json_object_get(m, "id"));
    char out[512];
    if (method == NULL || strncmp(method, "notifications/", 14) == 0) {
        json_decref(m);
        return reply(conn, 202, NULL, "", NULL, NULL);
    }
    if (strcmp(method, "initialize") == 0)
        snprintf(out, sizeof out, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"protocolVersion"
                 "\":\"2025-11-25\",\"capabilities\":{},\"serverInfo\":{\"name\":\"rs\","
                 "\"version\":\"1\"}}}", (long long)id);
    else
        snprintf(out, sizeof out, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[]}}",
                 (long long)id);
    json_decref(m);
    return reply(conn, 200, "application/json", out, NULL, NULL);
}

static enum MHD_Result
token_endpoint(struct MHD_Connection *conn, req_ctx *c)
{
    char grant[64] = "", verifier[200] = "", code[64] = "", rt[64] = "", resource[128] = "";
    form_get(c->body, "grant_type", grant, sizeof grant);
    form_get(c->body, "resource", resource, sizeof resource);
    pthread_mutex_lock(&A.mu);
    snprintf(A.last_resource, sizeof A.last_resource, "%s", resource);
    bool ok = false;
    if (strcmp(grant, "authorization_code") == 0) {
        A.token_codes++;
        form_get(c->body, "code_verifier", verifier, sizeof verifier);
        form_get(c->body, "code", code, sizeof code);
        char ch[44];
        ok = strcmp(code, "code-1") == 0 && mcp__pkce_challenge(verifier, ch) == MCP_OK &&
             strcmp(ch, A.challenge) == 0;
    } else if (strcmp(grant, "client_credentials") == 0) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        A.token_cc++;
        ok = auth != NULL && strcmp(auth, CC_BASIC) == 0;
    } else if (strcmp(grant, "refresh_token") == 0) {
        A.token_refreshes++;
        form_get(c->body, "refresh_token", rt, sizeof rt);
        ok = A.refresh_token[0] != '\0' && strcmp(rt, A.refresh_token) == 0;
    } else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") == 0) {
        char as[64] = "", cid[64] = "";
        form_get(c->body, "assertion", as, sizeof as);
        form_get(c->body, "client_id", cid, sizeof cid);
        ok = A.m == A_JWT_BEARER && strcmp(as, "workload-jwt") == 0 &&
             strcmp(cid, "wl-client") == 0 && strcmp(resource, "") != 0;
        A.jwt_bearer_ok += ok;
    }
    if (A.m == A_JWT_BEARER && strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") != 0)
        ok = false;
    if (A.migrated) {
        char cid[64] = "";
        form_get(c->body, "client_id", cid, sizeof cid);
        snprintf(A.as2_client_id, sizeof A.as2_client_id, "%s", cid);
        A.as2_tokens++;
    }
    bool dpop = false;
    if (IS_DPOP(A.m)) {
        char htu[96];
        snprintf(htu, sizeof htu, "http://127.0.0.1:%u/token", A.port);
        const char *proof = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "DPoP");
        dpop = proof != NULL && dpop_proof_ok(proof, htu, NULL);
        A.dpop_token_proofs += dpop;
        if (dpop && A.m == A_DPOP_NONCE && !nonce_is(proof, "as-n1")) {
            A.as_nonce_challenges++;
            pthread_mutex_unlock(&A.mu);
            struct MHD_Response *r = MHD_create_response_from_buffer(
                strlen("{\"error\":\"use_dpop_nonce\"}"),
                (void *)"{\"error\":\"use_dpop_nonce\"}", MHD_RESPMEM_MUST_COPY);
            MHD_add_response_header(r, "Content-Type", "application/json");
            MHD_add_response_header(r, "DPoP-Nonce", "as-n1");
            enum MHD_Result ret = MHD_queue_response(conn, 400, r);
            MHD_destroy_response(r);
            return ret;
        }
    }
    char out[256];
    if (ok) {
        A.next_token++;
        snprintf(A.valid_token, sizeof A.valid_token, "at-%d", A.next_token);
        snprintf(A.refresh_token, sizeof A.refresh_token, "rt-%d", A.next_token);
        snprintf(out, sizeof out,
                 "{\"access_token\":\"%s\",\"token_type\":\"%s\",\"expires_in\":%d,"
                 "\"refresh_token\":\"%s\"}",
                 A.valid_token, dpop ? "DPoP" : "Bearer", A.m == A_SHORT_TTL ? 1 : 3600,
                 A.refresh_token);
    }
    pthread_mutex_unlock(&A.mu);
    if (!ok)
        return reply(conn, 400, "application/json", "{\"error\":\"invalid_grant\"}", NULL, NULL);
    return reply(conn, 200, "application/json", out, "Cache-Control", "no-store");
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    if (req_collect(con_cls, upload, upload_size))
        return MHD_YES;
    req_ctx *c = *con_cls;
    char out[1024];
    unsigned p = A.port;
    /* The second AS (after the migration) lives under /as2; its endpoints are served by the
     * same code as the first's, told apart by A.migrated and the recorded client ids. */
    bool as2 = false;
    if (strcmp(url, "/.well-known/oauth-authorization-server/as2") == 0) {
        snprintf(out, sizeof out,
                 "{\"issuer\":\"http://127.0.0.1:%u/as2\",\"authorization_endpoint\":"
                 "\"http://127.0.0.1:%u/as2/authorize\",\"token_endpoint\":\"http://127.0.0.1:"
                 "%u/as2/token\",\"registration_endpoint\":\"http://127.0.0.1:%u/as2/register\","
                 "\"code_challenge_methods_supported\":[\"S256\"],"
                 "\"token_endpoint_auth_methods_supported\":[\"none\"]}", p, p, p, p);
        return reply(conn, 200, "application/json", out, NULL, NULL);
    }
    if (strncmp(url, "/as2/", 5) == 0) {
        as2 = true;
        url += 4;
    }
    if (as2 && strcmp(url, "/register") == 0) {
        pthread_mutex_lock(&A.mu);
        A.as2_registers++;
        pthread_mutex_unlock(&A.mu);
        return reply(conn, 201, "application/json", "{\"client_id\":\"dcr-2\"}", NULL, NULL);
    }
    if (as2 && strcmp(url, "/authorize") == 0) {
        const char *cid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "client_id");
        pthread_mutex_lock(&A.mu);
        snprintf(A.as2_client_id, sizeof A.as2_client_id, "%s", cid ? cid : "");
        pthread_mutex_unlock(&A.mu);
    }
    if (strstr(url, "evil-as") != NULL) {
        /* The AS a malicious MCP server names: count what reaches it. */
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        pthread_mutex_lock(&A.mu);
        A.evil_requests++;
        if (auth != NULL || (c->body != NULL && (strstr(c->body, "client_secret") != NULL ||
                                                 strstr(c->body, "client_assertion") != NULL)))
            A.evil_credentials++;
        pthread_mutex_unlock(&A.mu);
        if (strcmp(url, "/.well-known/oauth-authorization-server/evil-as") == 0) {
            snprintf(out, sizeof out,
                     "{\"issuer\":\"http://127.0.0.1:%u/evil-as\",\"authorization_endpoint\":"
                     "\"http://127.0.0.1:%u/evil-as/authorize\",\"token_endpoint\":"
                     "\"http://127.0.0.1:%u/evil-as/token\",\"code_challenge_methods_supported"
                     "\":[\"S256\"]}", p, p, p);
            return reply(conn, 200, "application/json", out, NULL, NULL);
        }
        if (strcmp(url, "/evil-as/token") == 0)
            return reply(conn, 400, "application/json", "{\"error\":\"invalid_client\"}",
                         NULL, NULL);
        return reply(conn, 404, "text/plain", "not found", NULL, NULL);
    }
    if (strncmp(url, "/internal/", 10) == 0) {
        pthread_mutex_lock(&A.mu);
        A.internal_hits++;
        pthread_mutex_unlock(&A.mu);
        return reply(conn, 200, "application/json", "{\"wiped\":true}", NULL, NULL);
    }
    if ((A.m == A_REMOTE_AS || A.m == A_REMOTE_ENDPOINTS) &&
        strcmp(url, "/.well-known/oauth-protected-resource/mcp") == 0) {
        snprintf(out, sizeof out,
                 "{\"resource\":\"http://mcp.test:%u/mcp\",\"authorization_servers\":[\"%s\"]}",
                 p, A.remote_as);
        return reply(conn, 200, "application/json", out, NULL, NULL);
    }
    if (A.m == A_REMOTE_ENDPOINTS && strcmp(url, "/.well-known/oauth-authorization-server") == 0) {
        pthread_mutex_lock(&A.mu);
        A.meta_hits++;
        pthread_mutex_unlock(&A.mu);
        snprintf(out, sizeof out,
                 "{\"issuer\":\"http://mcp.test:%u\",\"authorization_endpoint\":"
                 "\"http://127.0.0.1:%u/authorize\",\"token_endpoint\":\"http://127.0.0.1:%u/"
                 "token\",\"registration_endpoint\":\"http://127.0.0.1:%u/register\","
                 "\"code_challenge_methods_supported\":[\"S256\"]}", p, p, p, p);
        return reply(conn, 200, "application/json", out, NULL, NULL);
    }
    if (strcmp(url, "/mcp") == 0 && strcmp(method, "POST") == 0)
        return mcp_endpoint(conn, c);
    if (strcmp(url, "/mcp") == 0)
        return reply(conn, 405, NULL, "", NULL, NULL);
    if (strcmp(url, "/.well-known/oauth-protected-resource/mcp") == 0) {
        if (A.m == A_NO_PRM)
            return reply(conn, 404, "text/plain", "not found", NULL, NULL);
        char res[96], servers[160];
        if (A.m == A_EVIL_RESOURCE)
            snprintf(res, sizeof res, "https://evil.example.com/mcp");
        else
            snprintf(res, sizeof res, "http://127.0.0.1:%u/mcp", p);
        if (A.m == A_EVIL_AS)
            snprintf(servers, sizeof servers, "\"http://127.0.0.1:%u/evil-as\"", p);
        else if (A.migrated)
            snprintf(servers, sizeof servers, "\"http://127.0.0.1:%u/as2\"", p);
        else if (A.m == A_TWO_AS)
            snprintf(servers, sizeof servers,
                     "\"http://127.0.0.1:%u/evil-as\",\"http://127.0.0.1:%u\"", p, p);
        else
            snprintf(servers, sizeof servers, "\"http://127.0.0.1:%u\"", p);
        snprintf(out, sizeof out,
                 "{\"resource\":\"%s\",\"authorization_servers\":[%s],"
                 "\"scopes_supported\":[\"mcp:read\"]}", res, servers);
        return reply(conn, 200, "application/json", out, NULL, NULL);
    }
    if (strcmp(url, "/.well-known/oauth-authorization-server") == 0) {
        pthread_mutex_lock(&A.mu);
        A.meta_hits++;
        pthread_mutex_unlock(&A.mu);
        snprintf(out, sizeof out,
                 "{\"issuer\":\"http://127.0.0.1:%u\",\"authorization_endpoint\":"
                 "\"http://127.0.0.1:%u/authorize\",\"token_endpoint\":\"http://127.0.0.1:%u/"
                 "token\",\"registration_endpoint\":\"http://127.0.0.1:%u/register\","
                 "\"response_types_supported\":[\"code\"],\"scopes_supported\":[\"mcp:read\","
                 "\"offline_access\"],\"token_endpoint_auth_methods_supported\":[\"none\","
                 "\"client_secret_basic\"]%s%s%s}",
                 p, p, p, p,
                 A.m == A_NO_S256 ? "" : ",\"code_challenge_methods_supported\":[\"S256\"]",
                 (A.iss_mode >= ISS_ADVERTISED_MISSING &&
                  A.iss_mode <= ISS_ADVERTISED_ERROR_NO_ISS) || A.iss_mode == ISS_ADVERTISED_SLASH
                     ? ",\"authorization_response_iss_parameter_supported\":true" : "",
                 IS_DPOP(A.m) ? ",\"dpop_signing_alg_values_supported\":[\"ES256\"]" : "");
        return reply(conn, 200, "application/json", out, NULL, NULL);
    }
    if (strcmp(url, "/register") == 0 && strcmp(method, "POST") == 0) {
        json_error_t je;
        json_t *b = json_loadb(c->body ? c->body : "", c->len, 0, &je);
        pthread_mutex_lock(&A.mu);
        A.registers++;
        snprintf(A.redirect_uri, sizeof A.redirect_uri, "%s",
                 json_string_value(json_array_get(json_object_get(b, "redirect_uris"), 0)));
        pthread_mutex_unlock(&A.mu);
        json_decref(b);
        return reply(conn, 201, "application/json", "{\"client_id\":\"dcr-1\"}", NULL, NULL);
    }
    if (strcmp(url, "/authorize") == 0) {
        const char *ru = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "redirect_uri");
        const char *st = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "state");
        const char *ch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                                     "code_challenge");
        const char *sc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "scope");
        pthread_mutex_lock(&A.mu);
        A.authorizes++;
        snprintf(A.challenge, sizeof A.challenge, "%s", ch ? ch : "");
        snprintf(A.last_scope, sizeof A.last_scope, "%s", sc ? sc : "");
        pthread_mutex_unlock(&A.mu);
        bool forged = A.m == A_BAD_STATE || A.iss_mode == ISS_FORGED_ERROR;
        char *est = mcp__form_encode(forged ? "forged" : (st ? st : ""));
        char iss[96] = "";
        if (A.iss_mode == ISS_ADVERTISED_WRONG)
            snprintf(iss, sizeof iss, "&iss=http%%3A%%2F%%2F127.0.0.1%%3A%u%%2Fevil-as", p);
        else if (A.iss_mode == ISS_ADVERTISED_RIGHT)
            snprintf(iss, sizeof iss, "&iss=http%%3A%%2F%%2F127.0.0.1%%3A%u", p);
        else if (A.iss_mode == ISS_ADVERTISED_SLASH)
            snprintf(iss, sizeof iss, "&iss=http%%3A%%2F%%2F127.0.0.1%%3A%u%%2F", p);
        else if (as2)
            snprintf(iss, sizeof iss, "&iss=http%%3A%%2F%%2F127.0.0.1%%3A%u%%2Fas2", p);
        if (A.iss_mode == ISS_FORGED_ERROR || A.iss_mode == ISS_ADVERTISED_ERROR_NO_ISS)
            snprintf(out, sizeof out, "%s?error=access_denied&state=%s", ru ? ru : "", est);
        else
            snprintf(out, sizeof out, "%s?code=code-1&state=%s%s", ru ? ru : "", est, iss);
        mcp__free(est);
        return reply(conn, 302, "text/plain", "", "Location", out);
    }
    if (strcmp(url, "/token") == 0 && strcmp(method, "POST") == 0)
        return token_endpoint(conn, c);
    return reply(conn, 404, "text/plain", "not found", NULL, NULL);
}

static struct MHD_Daemon *daemon_;
static char url_[96];

static void
server_start(as_mode m)
{
    pthread_mutex_lock(&A.mu);
    A.m = m;
    A.registers = A.authorizes = A.token_codes = A.token_refreshes = A.token_cc = 0;
    A.evil_requests = A.evil_credentials = 0;
    A.meta_hits = A.internal_hits = 0;
    A.iss_mode = ISS_NONE;
    A.valid_token[0] = A.refresh_token[0] = A.challenge[0] = A.redirect_uri[0] = '\0';
    A.last_scope[0] = A.last_resource[0] = '\0';
    A.migrated = false;
    A.as2_registers = A.as2_tokens = A.dpop_token_proofs = A.dpop_good = A.dpop_bad = 0;
    A.jwt_bearer_ok = 0;
    A.as_nonce_challenges = A.rs_nonce_challenges = 0;
    A.as2_client_id[0] = '\0';
    memset(A.dpop_jtis, 0, sizeof A.dpop_jtis);
    pthread_mutex_unlock(&A.mu);
    daemon_ = mhd_start_loopback(handler);
    A.port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(url_, sizeof url_, "http://127.0.0.1:%u/mcp", A.port);
}

static void
server_stop(void)
{
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}

static char cache_dir[64];
static char cache_path[128];

static mcp_status
run_client(mcp_oauth_opts *oo, mcp_oauth **keep, mcp_error *err)
{
    mcp_oauth *o = NULL;
    assert_int_equal(mcp_oauth_new(oo, &o, err), MCP_OK);
    mcp_client_opts co;
    mcp_client_opts_default(&co);
    co.oauth = o;
    co.request_timeout_ms = 10000;
    mcp_client *c = NULL;
    assert_int_equal(mcp_client_new(&co, &c, err), MCP_OK);
    mcp_status rc = mcp_client_connect_http(c, url_, err);
    if (rc == MCP_OK) {
        json_t *tools = NULL;
        rc = mcp_client_list_tools(c, &tools, err);
        json_decref(tools);
    }
    mcp_client_free(c);
    if (keep != NULL)
        *keep = o;
    else
        mcp_oauth_free(o);
    return rc;
}

static void
oauth_full_flow_then_cache_reuse(void **state)
{
    (void)state;
    server_start(A_NORMAL);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    oo.token_cache_path = cache_path;
    mcp_error err;
    mcp_oauth *o = NULL;
    assert_int_equal(run_client(&oo, &o, &err), MCP_OK);
    assert_int_equal(mcp_oauth_authorization_count(o), 1);
    mcp_oauth_free(o);
    assert_int_equal(A.registers, 1);
    assert_int_equal(A.authorizes, 1);
    assert_int_equal(A.token_codes, 1);
    /* scope from the challenge, plus offline_access because the AS lists it (SEP-2207) */
    assert_string_equal(A.last_scope, "mcp:read offline_access");
    char want_res[96];
    snprintf(want_res, sizeof want_res, "http://127.0.0.1:%u/mcp", A.port);
    assert_string_equal(A.last_resource, want_res);
    assert_string_equal(A.redirect_uri, "http://127.0.0.1/callback");

    struct stat st;
    assert_int_equal(stat(cache_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* A second client with the same cache: no registration, no login, no token request. */
    assert_int_equal(run_client(&oo, &o, &err), MCP_OK);
    assert_int_equal(mcp_oauth_authorization_count(o), 0);
    mcp_oauth_free(o);
    assert_int_equal(A.registers, 1);
    assert_int_equal(A.authorizes, 1);
    assert_int_equal(A.token_codes, 1);

    /* The server forgets the token: 401 -> refresh grant -> retry, still no new login. */
    pthread_mutex_lock(&A.mu);
    snprintf(A.valid_token, sizeof A.valid_token, "revoked");
    pthread_mutex_unlock(&A.mu);
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.token_refreshes, 1);
    assert_int_equal(A.authorizes, 1);

    /* logout forgets the cached tokens: the next client has to log in again */
    assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_OK);
    assert_int_equal(mcp_oauth_logout(o, url_, &err), MCP_OK);
    mcp_oauth_free(o);
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.authorizes, 2);
    assert_int_equal(A.registers, 1);          /* the registration stays cached */
    unlink(cache_path);
    server_stop();
}

static void
oauth_refreshes_an_expired_token_before_sending(void **state)
{
    (void)state;
    server_start(A_SHORT_TTL);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    /* expires_in 1 s is inside the 30 s safety margin: each later request refreshed first */
    assert_int_equal(A.authorizes, 1);
    assert_true(A.token_refreshes >= 1);
    server_stop();
}

static void
oauth_refuses_without_pkce_s256(void **state)
{
    (void)state;
    server_start(A_NO_S256);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "S256"));
    assert_int_equal(A.authorizes, 0);
    assert_int_equal(A.registers, 0);
    server_stop();
}

static void
oauth_rejects_state_mismatch(void **state)
{
    (void)state;
    server_start(A_BAD_STATE);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "state mismatch"));
    assert_int_equal(A.token_codes, 0);       /* the code is never redeemed */
    server_stop();
}

static void
oauth_rejects_metadata_for_another_resource(void **state)
{
    (void)state;
    server_start(A_EVIL_RESOURCE);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "different resource"));
    assert_int_equal(A.authorizes, 0);
    server_stop();
}

/* ---- pinned issuer (mcp_oauth_opts.issuer) ----------------------------------------------- */

/* A fresh P-256 key as PKCS#8 PEM (malloc'd), for private_key_jwt. */
static char *
ec_key_pem(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *pem = calloc(1, (size_t)n + 1);
    memcpy(pem, data, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return pem;
}

static void
cc_opts(mcp_oauth_opts *oo, const char *issuer)
{
    mcp_oauth_opts_default(oo);
    oo->grant = MCP_OAUTH_GRANT_CLIENT_CREDENTIALS;
    oo->client_id = CC_ID;
    oo->client_secret = CC_SECRET;
    oo->issuer = issuer;
}

static void
oauth_pinned_issuer_refuses_the_as_a_server_names(void **state)
{
    (void)state;
    server_start(A_EVIL_AS);
    char legit[64];
    snprintf(legit, sizeof legit, "http://127.0.0.1:%u", A.port);
    char *pem = ec_key_pem();
    mcp_oauth_opts oo;
    mcp_error err;

    /* client secret (client_credentials) */
    cc_opts(&oo, legit);
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "not the pinned issuer"));
    assert_null(strstr(err.message, CC_SECRET));
    /* private_key_jwt (client_credentials) */
    cc_opts(&oo, legit);
    oo.client_secret = NULL;
    oo.private_key_pem = pem;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "not the pinned issuer"));
    /* pre-registered confidential client, authorization code grant */
    mcp_oauth_opts_default(&oo);
    oo.client_id = CC_ID;
    oo.client_secret = CC_SECRET;
    oo.issuer = legit;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    /* The other AS was never asked anything: not its metadata, let alone its token endpoint. */
    assert_int_equal(A.evil_requests, 0);
    assert_int_equal(A.evil_credentials, 0);
    assert_int_equal(A.token_cc + A.authorizes + A.registers, 0);

    /* Control: without a pin the same configuration hands both credentials to that AS (the
     * behaviour the pin exists to prevent; it also shows the counters above can see it). */
    cc_opts(&oo, NULL);
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_int_equal(A.evil_credentials, 1);
    cc_opts(&oo, NULL);
    oo.client_secret = NULL;
    oo.private_key_pem = pem;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_int_equal(A.evil_credentials, 2);
    free(pem);
    server_stop();
}

static void
oauth_pinned_issuer_matching_works(void **state)
{
    (void)state;
    server_start(A_NORMAL);
    char legit[64];
    /* a trailing slash does not matter (RFC 8414 issuer comparison) */
    snprintf(legit, sizeof legit, "http://127.0.0.1:%u/", A.port);
    mcp_oauth_opts oo;
    cc_opts(&oo, legit);
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.token_cc, 1);
    server_stop();

    /* The PRM lists the other AS first: the pinned one is chosen, the other never contacted. */
    server_start(A_TWO_AS);
    snprintf(legit, sizeof legit, "http://127.0.0.1:%u", A.port);
    cc_opts(&oo, legit);
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.token_cc, 1);
    assert_int_equal(A.evil_requests, 0);
    server_stop();
}

static void
oauth_pinned_issuer_without_prm(void **state)
{
    (void)state;
    /* 2025-03-26 server without PRM: it is its own AS, usable only when it is the pinned one. */
    server_start(A_NO_PRM);
    char iss[80];
    snprintf(iss, sizeof iss, "http://127.0.0.1:%u/other", A.port);
    mcp_oauth_opts oo;
    cc_opts(&oo, iss);
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "pinned issuer"));
    assert_int_equal(A.token_cc, 0);
    snprintf(iss, sizeof iss, "http://127.0.0.1:%u", A.port);
    cc_opts(&oo, iss);
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.token_cc, 1);
    server_stop();
}

static void
oauth_rejects_a_bad_pinned_issuer(void **state)
{
    (void)state;
    mcp_oauth_opts oo;
    cc_opts(&oo, "ftp://as.example");
    mcp_oauth *o = NULL;
    mcp_error err;
    assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_ERR_INVALID_ARG);
    assert_null(o);
    cc_opts(&oo, "not a url");
    assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_ERR_INVALID_ARG);
}

/* A cache entry as an unpinned run against a malicious server would have left it: tokens from
 * the other AS, with its token endpoint for the refresh. */
static void
write_evil_cache_entry(void)
{
    char iss[64], tep[80];
    snprintf(iss, sizeof iss, "http://127.0.0.1:%u/evil-as", A.port);
    snprintf(tep, sizeof tep, "%s/token", iss);
    json_t *doc = json_pack("{s:{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}}", "tokens", url_,
                            "access_token", "stale", "refresh_token", "evil-rt", "issuer", iss,
                            "token_endpoint", tep, "resource", url_, "client_id", CC_ID,
                            "client_secret", CC_SECRET, "token_endpoint_auth_method",
                            "client_secret_basic");
    mcp_error err;
    assert_int_equal(mcp__token_cache_save(cache_path, doc, &err), MCP_OK);
    json_decref(doc);
}

static void
oauth_cached_tokens_are_bound_to_their_issuer(void **state)
{
    (void)state;
    server_start(A_NORMAL);
    char legit[64];
    snprintf(legit, sizeof legit, "http://127.0.0.1:%u", A.port);
    mcp_oauth_opts oo;
    mcp_error err;

    /* Pinned: the entry from another issuer is ignored (no refresh there, no stale token sent);
     * the client authenticates at the pinned AS and the cache now holds its tokens. */
    write_evil_cache_entry();
    cc_opts(&oo, legit);
    oo.token_cache_path = cache_path;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.evil_requests, 0);
    assert_int_equal(A.token_cc, 1);
    json_t *doc = NULL;
    assert_int_equal(mcp__token_cache_load(cache_path, &doc, &err), MCP_OK);
    const json_t *t = json_object_get(json_object_get(doc, "tokens"), url_);
    assert_string_equal(json_string_value(json_object_get(t, "issuer")), legit);
    json_decref(doc);
    /* ... and a second pinned run reuses them without any token request */
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.token_cc, 1);

    /* Unpinned: the refresh token goes back to the AS that issued it and nowhere else. */
    write_evil_cache_entry();
    cc_opts(&oo, NULL);
    oo.token_cache_path = cache_path;
    (void)run_client(&oo, NULL, &err);
    assert_int_equal(A.token_refreshes, 0);
    assert_true(A.evil_requests >= 1);
    unlink(cache_path);
    server_stop();
}

/* The "browser": follow the AS's redirects to the loopback listener. */
static void
browser(void *udata, const char *url)
{
    int *calls = udata;
    (*calls)++;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);                /* the listener's "login complete" page */
    fclose(devnull);
    curl_easy_cleanup(h);
}

static void
oauth_loopback_login(void **state)
{
    (void)state;
    server_start(A_NORMAL);
    int calls = 0;
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    oo.login = MCP_OAUTH_LOGIN_LOOPBACK;
    oo.show_url = browser;
    oo.udata = &calls;
    oo.login_timeout_ms = 10000;
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(calls, 1);
    assert_int_equal(strncmp(A.redirect_uri, "http://127.0.0.1:", 17), 0);
    assert_non_null(strstr(A.redirect_uri, "/callback"));
    assert_int_equal(A.token_codes, 1);
    server_stop();
}

/* ---- the authorization response: state first, then RFC 9207 iss (finding 11) ------------ */

static mcp_status
run_with_iss_mode(int mode, mcp_error *err)
{
    server_start(A_NORMAL);
    A.iss_mode = mode;
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    mcp_error_clear(err);
    mcp_status rc = run_client(&oo, NULL, err);
    return rc;
}

static void
oauth_rfc9207_iss_is_checked(void **state)
{
    (void)state;
    mcp_error err;
    /* advertised but absent: refused, the code is not redeemed */
    assert_int_equal(run_with_iss_mode(ISS_ADVERTISED_MISSING, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "has no iss"));
    assert_int_equal(A.authorizes, 1);
    assert_int_equal(A.token_codes, 0);
    server_stop();
    /* another issuer's iss: refused */
    assert_int_equal(run_with_iss_mode(ISS_ADVERTISED_WRONG, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "issuer mismatch"));
    assert_int_equal(A.token_codes, 0);
    server_stop();
    /* an error response must carry iss as well */
    assert_int_equal(run_with_iss_mode(ISS_ADVERTISED_ERROR_NO_ISS, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "has no iss"));
    server_stop();
    /* the right iss: the flow completes */
    assert_int_equal(run_with_iss_mode(ISS_ADVERTISED_RIGHT, &err), MCP_OK);
    assert_int_equal(A.token_codes, 1);
    server_stop();
    /* the issuer with a trailing slash: compared as a plain string, so refused (2026-07-28) */
    assert_int_equal(run_with_iss_mode(ISS_ADVERTISED_SLASH, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "issuer mismatch"));
    assert_int_equal(A.token_codes, 0);
    server_stop();
}

/* SEP-2352: the PRM starts naming another AS while the client holds a token from the first;
 * the rejected token makes the client read the PRM again, register at the new AS and never
 * present the old registration there. */
static void
oauth_authorization_server_migration_reregisters(void **state)
{
    (void)state;
    server_start(A_NORMAL);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    mcp_oauth *o = NULL;
    mcp_error err;
    assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_OK);
    mcp_client_opts co;
    mcp_client_opts_default(&co);
    co.oauth = o;
    co.request_timeout_ms = 10000;
    mcp_client *c = NULL;
    assert_int_equal(mcp_client_new(&co, &c, &err), MCP_OK);
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    assert_int_equal(A.registers, 1);                 /* dcr-1 at the first AS */
    pthread_mutex_lock(&A.mu);
    A.migrated = true;
    snprintf(A.valid_token, sizeof A.valid_token, "moved");   /* the old token is refused */
    A.refresh_token[0] = '\0';                        /* ... and so is its refresh token */
    pthread_mutex_unlock(&A.mu);
    json_t *tools = NULL;
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_OK);
    json_decref(tools);
    assert_int_equal(A.as2_registers, 1);
    assert_string_equal(A.as2_client_id, "dcr-2");
    assert_int_equal(A.registers, 1);
    mcp_client_free(c);
    mcp_oauth_free(o);
    server_stop();
}

/* DPoP (RFC 9449): a proof at the token endpoint, a bound token presented with the DPoP
 * scheme and a fresh, verifiable proof on every MCP request; never written to the cache. */
static void
oauth_dpop_binds_and_proves(void **state)
{
    (void)state;
    server_start(A_DPOP);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    oo.token_cache_path = cache_path;
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_true(A.dpop_token_proofs >= 1);
    assert_true(A.dpop_good >= 2);                   /* discover/initialize, tools/list, ... */
    assert_int_equal(A.dpop_bad, 0);
    FILE *f = fopen(cache_path, "r");
    if (f != NULL) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        assert_null(strstr(buf, "at-"));             /* no bound token in the cache file */
    }
    unlink(cache_path);
    server_stop();
    /* turned off: plain Bearer tokens, which this server refuses */
    server_start(A_DPOP);
    oo.dpop = MCP_OAUTH_DPOP_OFF;
    oo.token_cache_path = NULL;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_int_equal(A.dpop_token_proofs, 0);
    server_stop();
}

/* DPoP nonces: the token endpoint's 400 and the MCP server's 401 use_dpop_nonce are each
 * answered once with the nonce they announced, without a new authorization. */
static void
oauth_dpop_nonces_are_honoured(void **state)
{
    (void)state;
    server_start(A_DPOP_NONCE);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    mcp_error err;
    mcp_oauth *o = NULL;
    assert_int_equal(run_client(&oo, &o, &err), MCP_OK);
    assert_int_equal(A.as_nonce_challenges, 1);
    assert_int_equal(A.rs_nonce_challenges, 1);
    assert_int_equal(A.authorizes, 1);
    assert_int_equal(A.token_codes, 2);              /* the first one was told to use a nonce */
    assert_int_equal(mcp_oauth_authorization_count(o), 1);
    assert_int_equal(A.dpop_bad, 0);
    mcp_oauth_free(o);
    server_stop();
}

/* Workload identity (SEP-1933): the JWT-bearer grant with the configured assertion. */
static void
oauth_jwt_bearer_grant(void **state)
{
    (void)state;
    server_start(A_JWT_BEARER);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    oo.grant = MCP_OAUTH_GRANT_JWT_BEARER;
    oo.client_id = "wl-client";
    oo.assertion = "workload-jwt";
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.jwt_bearer_ok, 1);
    assert_int_equal(A.authorizes, 0);
    server_stop();
    /* a refused assertion is reported, not retried with another grant */
    server_start(A_JWT_BEARER);
    oo.assertion = "stolen-jwt";
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);
    assert_int_equal(A.authorizes, 0);
    assert_int_equal(A.token_codes, 0);
    server_stop();
    /* no assertion: refused up front */
    oo.assertion = NULL;
    mcp_oauth *o = NULL;
    assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_ERR_INVALID_ARG);
}

static void
oauth_state_is_checked_before_error(void **state)
{
    (void)state;
    /* A forged error response (its state is not ours) is reported as what it is, a response
     * that does not belong to this login, not as the user's denial. */
    mcp_error err;
    assert_int_equal(run_with_iss_mode(ISS_FORGED_ERROR, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "state mismatch"));
    assert_null(strstr(err.message, "denied"));
    assert_int_equal(A.token_codes, 0);
    server_stop();
}

/* ---- SSRF: URLs learned from a remote server (finding 2) -------------------------------- */

static char remote_url[96], remote_map[2][64];
static const char *remote_resolve[3];

/* An OAuth client for the "remote" server http://mcp.test:P/mcp: mcp.test and
 * admin.internal.test resolve to 127.0.0.1 (CURLOPT_RESOLVE plays the DNS), so the rule sees a
 * server that is not on loopback whose URLs lead to loopback addresses. http is allowed on
 * those names (allow_insecure_http), which is about TLS only, not about addresses. */
static mcp_oauth *
remote_client(bool allow_internal, bool client_credentials)
{
    snprintf(remote_url, sizeof remote_url, "http://mcp.test:%u/mcp", A.port);
    snprintf(remote_map[0], sizeof remote_map[0], "mcp.test:%u:127.0.0.1", A.port);
    snprintf(remote_map[1], sizeof remote_map[1], "admin.internal.test:%u:127.0.0.1", A.port);
    remote_resolve[0] = remote_map[0];
    remote_resolve[1] = remote_map[1];
    remote_resolve[2] = NULL;
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    oo.allow_insecure_http = true;
    oo.allow_internal_as = allow_internal;
    if (client_credentials) {
        oo.grant = MCP_OAUTH_GRANT_CLIENT_CREDENTIALS;
        oo.client_id = CC_ID;
        oo.client_secret = CC_SECRET;
    }
    mcp_oauth *o = NULL;
    mcp_error err;
    assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_OK);
    o->resolve = remote_resolve;
    return o;
}

static mcp_status
remote_challenge(mcp_oauth *o, const char *resource_metadata, mcp_error *err)
{
    char ch[256] = "Bearer error=\"invalid_token\"";
    if (resource_metadata != NULL)
        snprintf(ch, sizeof ch, "Bearer error=\"invalid_token\", resource_metadata=\"%s\"",
                 resource_metadata);
    mcp_error_clear(err);
    return mcp__oauth_handle_challenge(o, remote_url, 401, ch, err);
}

static void
oauth_ssrf_remote_server_cannot_reach_internal_addresses(void **state)
{
    (void)state;
    server_start(A_REMOTE_AS);
    mcp_error err;
    char rm[160];
    mcp_oauth *o = remote_client(false, false);

    /* The repro: a remote server's challenge names a local admin URL as its metadata. */
    snprintf(rm, sizeof rm, "http://127.0.0.1:%u/internal/admin?op=wipe", A.port);
    assert_int_equal(remote_challenge(o, rm, &err), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(err.message, "loopback address 127.0.0.1"));
    assert_int_equal(A.internal_hits, 0);
    /* ... and a DNS name that resolves to loopback is the same */
    snprintf(rm, sizeof rm, "http://admin.internal.test:%u/internal/admin?op=wipe", A.port);
    assert_int_equal(remote_challenge(o, rm, &err), MCP_ERR_FORBIDDEN);
    assert_int_equal(A.internal_hits, 0);

    /* The PRM (on the server's own origin, which is allowed) names an AS on loopback: its
     * metadata is never fetched. */
    snprintf(A.remote_as, sizeof A.remote_as, "http://127.0.0.1:%u", A.port);
    assert_int_equal(remote_challenge(o, NULL, &err), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(err.message, "loopback address 127.0.0.1"));
    assert_int_equal(A.meta_hits, 0);
    /* An internal https AS: refused for its address, not after a TLS attempt. */
    snprintf(A.remote_as, sizeof A.remote_as, "https://admin.internal.test:%u", A.port);
    assert_int_equal(remote_challenge(o, NULL, &err), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(err.message, "loopback address 127.0.0.1"));
    mcp_oauth_free(o);
    server_stop();

    /* The AS is the server's origin, but its metadata puts the token and registration
     * endpoints on loopback: no POST goes there (client credentials, then DCR). */
    server_start(A_REMOTE_ENDPOINTS);
    snprintf(A.remote_as, sizeof A.remote_as, "http://mcp.test:%u", A.port);
    o = remote_client(false, true);
    assert_int_equal(remote_challenge(o, NULL, &err), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(err.message, "/token"));
    assert_int_equal(A.meta_hits, 1);
    assert_int_equal(A.token_cc, 0);
    mcp_oauth_free(o);
    o = remote_client(false, false);
    assert_int_equal(remote_challenge(o, NULL, &err), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(err.message, "/register"));
    assert_int_equal(A.registers, 0);
    assert_int_equal(A.authorizes, 0);
    mcp_oauth_free(o);
    server_stop();
}

static void
oauth_ssrf_opt_in_allows_an_internal_as(void **state)
{
    (void)state;
    /* allow_internal_as: the deployment says its AS is internal; the same URLs are used. */
    server_start(A_REMOTE_AS);
    mcp_error err;
    char rm[160];
    mcp_oauth *o = remote_client(true, false);
    snprintf(rm, sizeof rm, "http://127.0.0.1:%u/internal/admin?op=wipe", A.port);
    assert_int_not_equal(remote_challenge(o, rm, &err), MCP_ERR_FORBIDDEN);
    assert_int_equal(A.internal_hits, 1);          /* the GET arrives (the opt-in works) */
    mcp_oauth_free(o);
    server_stop();

    server_start(A_REMOTE_ENDPOINTS);
    snprintf(A.remote_as, sizeof A.remote_as, "http://mcp.test:%u", A.port);
    o = remote_client(true, true);
    assert_int_equal(remote_challenge(o, NULL, &err), MCP_OK);
    assert_int_equal(A.token_cc, 1);
    mcp_oauth_free(o);
    server_stop();

    /* Without the opt-in, a loopback MCP server may still use its loopback AS (the default
     * flow of the tests above and of the conformance suite). */
    server_start(A_NORMAL);
    mcp_oauth_opts oo;
    cc_opts(&oo, NULL);
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(A.token_cc, 1);
    server_stop();
}

/* A "browser" preceded by someone else: before the user's browser comes back, bad_first requests
 * reach the listener's /callback with a state that is not ours (a code, or a forged error), and
 * a request without any state. Each must get 400 and leave the listener waiting. */
typedef struct prober {
    int  bad_first;
    bool follow;        /* then the real browser follows the authorization URL */
    int  got_400;
} prober;

static long
get_status(const char *url)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    fclose(devnull);
    curl_easy_cleanup(h);
    return code;
}

static void
probing_browser(void *udata, const char *url)
{
    prober *pr = udata;
    char *ru = mcp__url_query_param(url, "redirect_uri");
    assert_non_null(ru);
    for (int i = 0; i < pr->bad_first; i++) {
        char bad[320];
        if (i % 3 == 0)
            snprintf(bad, sizeof bad, "%s?code=attacker-code&state=guess-%d", ru, i);
        else if (i % 3 == 1)
            snprintf(bad, sizeof bad, "%s?error=access_denied&state=guess-%d", ru, i);
        else
            snprintf(bad, sizeof bad, "%s?code=attacker-code", ru);
        if (get_status(bad) == 400)
            pr->got_400++;
    }
    mcp__free(ru);
    if (pr->follow) {
        int calls = 0;
        browser(&calls, url);
    }
}

static void
oauth_loopback_login_ignores_callbacks_with_another_state(void **state)
{
    (void)state;
    server_start(A_NORMAL);
    prober pr = { .bad_first = 3, .follow = true };
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    oo.login = MCP_OAUTH_LOGIN_LOOPBACK;
    oo.show_url = probing_browser;
    oo.udata = &pr;
    oo.login_timeout_ms = 10000;
    mcp_error err;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_OK);
    assert_int_equal(pr.got_400, 3);
    assert_int_equal(A.token_codes, 1);         /* the real code, once */
    server_stop();

    /* Bounded: a flood of wrong callbacks ends the login (it does not wait for the timeout). */
    server_start(A_NORMAL);
    pr = (prober){ .bad_first = 32, .follow = false };
    oo.udata = &pr;
    oo.login_timeout_ms = 60000;
    assert_int_equal(run_client(&oo, NULL, &err), MCP_ERR_UNAUTHENTICATED);   /* not TIMEOUT */
    assert_non_null(strstr(err.message, "did not belong to this login"));
    assert_int_equal(pr.got_400, 32);
    assert_int_equal(A.token_codes, 0);
    server_stop();
}

static int
setup(void **state)
{
    (void)state;
    pthread_mutex_init(&A.mu, NULL);
    snprintf(cache_dir, sizeof cache_dir, "/tmp/mcp-oauth-test-XXXXXX");
    if (mkdtemp(cache_dir) == NULL)
        return -1;
    snprintf(cache_path, sizeof cache_path, "%s/tokens.json", cache_dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(cache_path);
    rmdir(cache_dir);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oauth_full_flow_then_cache_reuse),
        cmocka_unit_test(oauth_refreshes_an_expired_token_before_sending),
        cmocka_unit_test(oauth_refuses_without_pkce_s256),
        cmocka_unit_test(oauth_rejects_state_mismatch),
        cmocka_unit_test(oauth_rejects_metadata_for_another_resource),
        cmocka_unit_test(oauth_loopback_login),
        cmocka_unit_test(oauth_pinned_issuer_refuses_the_as_a_server_names),
        cmocka_unit_test(oauth_pinned_issuer_matching_works),
        cmocka_unit_test(oauth_pinned_issuer_without_prm),
        cmocka_unit_test(oauth_rejects_a_bad_pinned_issuer),
        cmocka_unit_test(oauth_cached_tokens_are_bound_to_their_issuer),
        cmocka_unit_test(oauth_loopback_login_ignores_callbacks_with_another_state),
        cmocka_unit_test(oauth_rfc9207_iss_is_checked),
        cmocka_unit_test(oauth_authorization_server_migration_reregisters),
        cmocka_unit_test(oauth_dpop_binds_and_proves),
        cmocka_unit_test(oauth_dpop_nonces_are_honoured),
        cmocka_unit_test(oauth_jwt_bearer_grant),
        cmocka_unit_test(oauth_state_is_checked_before_error),
        cmocka_unit_test(oauth_ssrf_remote_server_cannot_reach_internal_addresses),
        cmocka_unit_test(oauth_ssrf_opt_in_allows_an_internal_as),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
