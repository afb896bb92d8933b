/* requestState sealing (SEP-2322). Why HMAC and not a server-side table: a table needs sticky
 * routing or shared storage between server processes, which the stateless 2026 core exists to
 * avoid; a MAC'd token needs only a shared key. Why HMAC and not AEAD: the contents are what the
 * client already answered plus handler progress, so integrity is what matters; the header
 * comment in request_state.h says handlers must not put secrets into it. */
#include "protocol/request_state.h"

#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <string.h>

static const char PREFIX[] = "mrs1.";
#define PREFIX_LEN (sizeof PREFIX - 1)
static const char DERIVE_LABEL[] = "libmcp requestState v1";

void
mcp__rstate_keyring_init(mcp__rstate_keyring *kr)
{
    memset(kr, 0, sizeof *kr);
}

void
mcp__rstate_keyring_cleanup(mcp__rstate_keyring *kr)
{
    if (kr)
        mcp_memzero(kr, sizeof *kr);
}

static bool
hmac256(const unsigned char *key, size_t klen, const void *data, size_t len,
        unsigned char out[32])
{
    unsigned int olen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, data, len, out, &olen))
        return false;
    return olen == 32;
}

static mcp_status
key_from_bytes(mcp__rstate_key *slot, const unsigned char *secret, size_t len, mcp_error *err)
{
    unsigned char kidsrc[32];
    if (!hmac256(secret, len, DERIVE_LABEL, sizeof DERIVE_LABEL - 1, slot->mac))
        return mcp_error_set(err, MCP_ERR_INTERNAL, "requestState: HMAC failed");
    /* The kid names the key without revealing it: a hash of the derived key, truncated. */
    if (!mcp__sha256(slot->mac, sizeof slot->mac, kidsrc))
        return mcp_error_set(err, MCP_ERR_INTERNAL, "requestState: SHA-256 failed");
    char *kid = mcp__b64url_encode(kidsrc, 8);
    if (!kid)
        return mcp_error_set(err, MCP_ERR_NOMEM, "requestState: out of memory");
    memcpy(slot->kid, kid, MCP__RSTATE_KID_LEN);
    slot->kid[MCP__RSTATE_KID_LEN] = '\0';
    mcp__free(kid);
    slot->set = true;
    return MCP_OK;
}

mcp_status
mcp__rstate_key_derive(mcp__rstate_key *slot, const void *secret, size_t len, mcp_error *err)
{
    memset(slot, 0, sizeof *slot);
    if (!secret || len < MCP__RSTATE_MIN_SECRET || len > MCP__RSTATE_MAX_SECRET)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "requestState secret must be %u..%u bytes", MCP__RSTATE_MIN_SECRET,
                             MCP__RSTATE_MAX_SECRET);
    return key_from_bytes(slot, secret, len, err);
}

mcp_status
mcp__rstate_key_random(mcp__rstate_key *slot, mcp_error *err)
{
    unsigned char secret[32];
    memset(slot, 0, sizeof *slot);
    mcp_status rc = mcp_random_bytes(secret, sizeof secret, err);
    if (rc == MCP_OK)
        rc = key_from_bytes(slot, secret, sizeof secret, err);
    mcp_memzero(secret, sizeof secret);
    return rc;
}

/* Length-prefixed field, or a distinct marker for "absent", so ("a","bc") != ("ab","c") and
 * NULL != "". */
static bool
hash_field(EVP_MD_CTX *md, const char *s, size_t n)
{
    unsigned char hdr[9];
    if (!s) {
        memset(hdr, 0xff, sizeof hdr);
        return EVP_DigestUpdate(md, hdr, sizeof hdr) == 1;
    }
    hdr[0] = 0;
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return EVP_DigestUpdate(md, hdr, sizeof hdr) == 1 && EVP_DigestUpdate(md, s, n) == 1;
}

mcp_status
mcp__rstate_bind(mcp__rstate_binding *out, const char *method, const char *name,
                 const char *principal_issuer, const char *principal_subject, const json_t *args,
                 mcp_error *err)
{
    mcp_status rc = MCP_OK;
    char *dump = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return mcp_error_set(err, MCP_ERR_NOMEM, "requestState: out of memory");
    if (args) {
        dump = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (!dump) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "requestState: cannot serialize arguments");
            goto out;
        }
    }
    static const char DOMAIN[] = "libmcp requestState binding v1";
    unsigned int olen = 0;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        !hash_field(md, DOMAIN, sizeof DOMAIN - 1) ||
        !hash_field(md, method, method ? strlen(method) : 0) ||
        !hash_field(md, name, name ? strlen(name) : 0) ||
        !hash_field(md, principal_issuer, principal_issuer ? strlen(principal_issuer) : 0) ||
        !hash_field(md, principal_subject, principal_subject ? strlen(principal_subject) : 0) ||
        !hash_field(md, dump, dump ? strlen(dump) : 0) ||
        EVP_DigestFinal_ex(md, out->digest, &olen) != 1 || olen != 32)
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "requestState: SHA-256 failed");
out:
    mcp__free(dump);             /* jansson's allocator is ours (mcp_replace_allocator keeps them equal) */
    EVP_MD_CTX_free(md);
    return rc;
}

mcp_status
mcp__rstate_seal(const mcp__rstate_keyring *kr, const mcp__rstate_binding *bnd,
                 const json_t *payload, int64_t ttl_s, int64_t now_s, char **out, mcp_error *err)
{
    mcp_status rc = MCP_OK;
    json_t *body = NULL;
    char *bodytxt = NULL, *bodyb64 = NULL, *bndb64 = NULL, *macb64 = NULL;
    mcp_buf tok;
    mcp__buf_init(&tok, MCP__RSTATE_MAX_TOKEN);
    unsigned char mac[32];

    if (!kr || !kr->current.set)
        return mcp_error_set(err, MCP_ERR_STATE, "requestState: no key configured");
    if (ttl_s <= 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "requestState: ttl must be positive");
    bndb64 = mcp__b64url_encode(bnd->digest, sizeof bnd->digest);
    body = json_pack("{s:s, s:I, s:I, s:s, s:O}", "kid", kr->current.kid, "iat",
                     (json_int_t)now_s, "exp", (json_int_t)(now_s + ttl_s), "bnd",
                     bndb64 ? bndb64 : "", "d", payload ? (json_t *)payload : json_null());
    if (!bndb64 || !body) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "requestState: out of memory");
        goto out;
    }
    bodytxt = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER); /* kid first: see open */
    if (!bodytxt) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "requestState: cannot serialize");
        goto out;
    }
    if (strlen(bodytxt) > MCP__RSTATE_MAX_TOKEN) {
        rc = mcp_error_set(err, MCP_ERR_TOO_LARGE, "requestState: payload too large");
        goto out;
    }
    bodyb64 = mcp__b64url_encode((const unsigned char *)bodytxt, strlen(bodytxt));
    if (!bodyb64) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "requestState: out of memory");
        goto out;
    }
    if ((rc = mcp__buf_append(&tok, PREFIX, PREFIX_LEN)) != MCP_OK ||
        (rc = mcp__buf_appends(&tok, bodyb64)) != MCP_OK) {
        mcp_error_set(err, rc, "requestState: token too large");
        goto out;
    }
    if (!hmac256(kr->current.mac, sizeof kr->current.mac, tok.ptr, tok.len, mac)) {
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "requestState: HMAC failed");
        goto out;
    }
    macb64 = mcp__b64url_encode(mac, sizeof mac);
    if (!macb64) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "requestState: out of memory");
        goto out;
    }
    if ((rc = mcp__buf_appends(&tok, ".")) != MCP_OK ||
        (rc = mcp__buf_appends(&tok, macb64)) != MCP_OK) {
        mcp_error_set(err, rc, "requestState: token too large");
        goto out;
    }
    *out = mcp__buf_steal(&tok, NULL);
    if (!*out)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "requestState: out of memory");
out:
    mcp_memzero(mac, sizeof mac);
    json_decref(body);
    mcp__free(bodytxt);
    mcp__free(bodyb64);
    mcp__free(bndb64);
    mcp__free(macb64);
    mcp__buf_cleanup(&tok);
    return rc;
}

#define REFUSE(...) mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, -32602, __VA_ARGS__)

static const mcp__rstate_key *
key_for_kid(const mcp__rstate_keyring *kr, const char *kid, size_t kidlen)
{
    const mcp__rstate_key *k[2] = { &kr->current, &kr->previous };
    for (int i = 0; i < 2; i++)
        if (k[i]->set && kidlen == MCP__RSTATE_KID_LEN && memcmp(k[i]->kid, kid, kidlen) == 0)
            return k[i];
    return NULL;
}

mcp_status
mcp__rstate_open(const mcp__rstate_keyring *kr, const mcp__rstate_binding *bnd, const char *token,
                 size_t len, int64_t now_s, json_t **payload, mcp_error *err)
{
    mcp_status rc;
    unsigned char *bodytxt = NULL, *macbin = NULL, *bndbin = NULL;
    size_t bodylen = 0, maclen = 0, bndlen = 0;
    unsigned char want[32];
    json_t *body = NULL;

    if (!kr || (!kr->current.set && !kr->previous.set))
        return mcp_error_set(err, MCP_ERR_STATE, "requestState: no key configured");
    if (!token || len == 0 || len > MCP__RSTATE_MAX_TOKEN)
        return REFUSE("requestState: invalid length");
    if (len < PREFIX_LEN || memcmp(token, PREFIX, PREFIX_LEN) != 0)
        return REFUSE("requestState: unknown format");
    const char *dot = memchr(token + PREFIX_LEN, '.', len - PREFIX_LEN);
    if (!dot)
        return REFUSE("requestState: malformed");
    size_t signed_len = (size_t)(dot - token);
    const char *b64body = token + PREFIX_LEN;
    size_t b64bodylen = signed_len - PREFIX_LEN;
    const char *b64mac = dot + 1;
    size_t b64maclen = len - signed_len - 1;
    if (memchr(b64mac, '.', b64maclen) || memchr(token, '\0', len))
        return REFUSE("requestState: malformed");

    if (mcp__b64url_decode(b64mac, b64maclen, &macbin, &maclen) != MCP_OK || maclen != 32) {
        rc = REFUSE("requestState: malformed MAC");
        goto out;
    }
    if (mcp__b64url_decode(b64body, b64bodylen, &bodytxt, &bodylen) != MCP_OK) {
        rc = REFUSE("requestState: malformed body");
        goto out;
    }
    /* The kid is read from the (still unauthenticated) body with a plain scan, not with jansson:
     * only the MAC'd bytes are ever handed to the JSON parser. Each known key is tried when the
     * kid cannot be located, so a body without a kid fails the MAC, not the parse. */
    const mcp__rstate_key *key = NULL;
    static const char KIDPFX[] = "{\"kid\":\"";
    if (bodylen > sizeof KIDPFX - 1 + MCP__RSTATE_KID_LEN &&
        memcmp(bodytxt, KIDPFX, sizeof KIDPFX - 1) == 0)
        key = key_for_kid(kr, (const char *)bodytxt + sizeof KIDPFX - 1, MCP__RSTATE_KID_LEN);
    if (!key) {
        rc = REFUSE("requestState: unknown key");
        goto out;
    }
    if (!hmac256(key->mac, sizeof key->mac, token, signed_len, want)) {
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "requestState: HMAC failed");
        goto out;
    }
    if (!mcp_ct_equal(want, sizeof want, macbin, maclen)) {
        rc = REFUSE("requestState: integrity check failed");
        goto out;
    }

    json_error_t jerr;
    body = json_loadb((const char *)bodytxt, bodylen, JSON_REJECT_DUPLICATES, &jerr);
    json_int_t iat = 0, exp = 0;
    const char *bndtxt = NULL, *kid = NULL;
    json_t *d = NULL;
    if (!body || json_unpack(body, "{s:s, s:I, s:I, s:s, s:o}", "kid", &kid, "iat", &iat, "exp",
                             &exp, "bnd", &bndtxt, "d", &d) != 0) {
        rc = REFUSE("requestState: malformed body");
        goto out;
    }
    if (strcmp(kid, key->kid) != 0) {
        rc = REFUSE("requestState: key mismatch");
        goto out;
    }
    if ((int64_t)exp <= now_s) {
        rc = REFUSE("requestState: expired");
        goto out;
    }
    if ((int64_t)iat > now_s + MCP__RSTATE_MAX_SKEW || iat > exp) {
        rc = REFUSE("requestState: not yet valid");
        goto out;
    }
    if (mcp__b64url_decode(bndtxt, strlen(bndtxt), &bndbin, &bndlen) != MCP_OK ||
        !mcp_ct_equal(bndbin, bndlen, bnd->digest, sizeof bnd->digest)) {
        rc = REFUSE("requestState: issued for another request or principal");
        goto out;
    }
    json_incref(d);
    *payload = d;
    rc = MCP_OK;
out:
    mcp_memzero(want, sizeof want);
    json_decref(body);
    mcp__free(bodytxt);
    mcp__free(macbin);
    mcp__free(bndbin);
    return rc;
}
