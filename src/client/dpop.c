/*
 * DPoP (RFC 9449; MCP extension io.modelcontextprotocol/auth/dpop, SEP-1932): sender-
 * constrained access tokens. When the MCP server takes DPoP (a DPoP challenge, or RFC 9728
 * dpop_* fields in its metadata) and the authorization server advertises ES256 in
 * dpop_signing_alg_values_supported (and the application did not turn DPoP off), the OAuth
 * client makes one EC P-256 key in memory (jwt_sign.c), sends a proof with every token request
 * and, once the token came back bound (token_type DPoP), presents it as "Authorization: DPoP"
 * with a fresh proof (new jti, htm, htu, ath) on every request to the MCP server. A
 * use_dpop_nonce answer (the token endpoint's 400 or the MCP server's 401) gives a nonce that
 * the next proof for that server carries (section 8 and 9).
 *
 * The key lives as long as the mcp_oauth object; tokens bound to it are therefore not written
 * to the token cache file (a later process could not use them).
 */
#include "client/internal.h"

#include <openssl/sha.h>
#include <string.h>

bool
mcp__oauth_dpop_wanted(const mcp_oauth *o)
{
    if (o->dpop_mode == MCP_OAUTH_DPOP_OFF || o->as_meta == NULL || !o->rs_dpop)
        return false;
    return mcp__json_array_has(json_object_get(o->as_meta, "dpop_signing_alg_values_supported"),
                               "ES256");
}

/* htu: the URL without query and fragment (RFC 9449 section 4.2). */
static char *
htu_of(const char *url)
{
    size_t n = strcspn(url, "?#");
    return mcp__strndup(url, n);
}

mcp_status
mcp__oauth_dpop_proof(mcp_oauth *o, const char *htm, const char *url, const char *token,
                      const char *nonce, char **proof, mcp_error *err)
{
    *proof = NULL;
    if (o->dpop_key == NULL) {
        mcp_status rc = mcp__dpop_key_new(&o->dpop_key, &o->dpop_jwk, err);
        if (rc != MCP_OK)
            return rc;
    }
    char *jti = mcp__random_token(16);
    char *htu = htu_of(url);
    json_t *claims = jti && htu ? json_pack("{s:s, s:s, s:s, s:I}", "jti", jti, "htm", htm,
                                            "htu", htu, "iat", (json_int_t)mcp__unix_now())
                                : NULL;
    mcp__free(jti);
    mcp__free(htu);
    if (claims == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    bool ok = true;
    if (token != NULL) {
        unsigned char h[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)token, strlen(token), h);
        char *ath = mcp__b64url_encode(h, sizeof h);
        ok = ath != NULL && json_object_set_new(claims, "ath", json_string(ath)) == 0;
        mcp__free(ath);
    }
    if (ok && nonce != NULL)
        ok = json_object_set_new(claims, "nonce", json_string(nonce)) == 0;
    mcp_status rc = ok ? mcp__dpop_sign(o->dpop_key, o->dpop_jwk, claims, proof, err)
                       : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    json_decref(claims);
    return rc;
}

char *
mcp__oauth_dpop_line(mcp_oauth *o, const char *url)
{
    if (o == NULL || !o->dpop_bound || o->access_token == NULL)
        return NULL;
    char *proof = NULL;
    mcp_error e;
    if (mcp__oauth_dpop_proof(o, "POST", url, o->access_token, o->dpop_rs_nonce, &proof, &e) !=
        MCP_OK) {
        mcp__log(MCP__LOG_WARN, "oauth", "no DPoP proof: %s", e.message);
        return NULL;
    }
    char *line = mcp__aprintf("DPoP: %s", proof);
    mcp__free(proof);
    return line;
}

/* A nonce is a visible-ASCII string (RFC 9449 section 8.1: NQCHAR); anything else is ignored. */
static bool
nonce_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 1024)
        return false;
    for (size_t i = 0; i < len; i++)
        if (n[i] < 0x21 || n[i] > 0x7e || n[i] == '"' || n[i] == '\\')
            return false;
    return true;
}

void
mcp__oauth_dpop_nonce(mcp_oauth *o, bool from_as, const char *nonce)
{
    if (o == NULL || !nonce_ok(nonce))
        return;
    char **dst = from_as ? &o->dpop_as_nonce : &o->dpop_rs_nonce;
    if (*dst != NULL && strcmp(*dst, nonce) == 0)
        return;
    (void)mcp__set_str(dst, nonce);
    if (!from_as)
        o->dpop_rs_nonce_new = true;
}
