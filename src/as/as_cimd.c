/*
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the MCP
 * authorization spec's preferred registration): a client_id that is an https URL names a JSON
 * document at that URL describing the client. The document is fetched through src/net with the
 * SSRF rules for URLs learned from a peer (https only; every address the name resolves to must be
 * public; no redirects), bounded in size and time, and checked: its client_id equals the URL,
 * redirect_uris is a non-empty array of well-formed URIs (matched exactly, no loopback port
 * wildcard), no shared secret, token_endpoint_auth_method "none" (these are public clients).
 * Valid documents are cached for MCP__AS_CIMD_TTL seconds (bounded slots, oldest evicted); a
 * failed fetch is not cached.
 *
 * opts.cimd_allow_internal (tests only) lifts the address rule and lets http reach a loopback
 * host, so a test can serve the document on 127.0.0.1.
 */
#include "internal.h"

#include "net/net.h"

#include <jansson.h>
#include <string.h>

#define MCP__AS_CIMD_MAX_BODY   (16u << 10)
#define MCP__AS_CIMD_TIMEOUT_MS 5000u
#define MCP__AS_CIMD_URL_MAX    2048u

bool
mcp__as_cimd_id(const char *id)
{
    return id != NULL && (strncmp(id, "https://", 8) == 0 || strncmp(id, "http://", 7) == 0);
}

/* The draft's section 3 rules for the URL itself. */
static bool
cimd_url_ok(const mcp_as *as, const char *id)
{
    size_t n = strlen(id);
    if (n > MCP__AS_CIMD_URL_MAX || strpbrk(id, "#\"\\ <>") != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
            return false;
    mcp__url u;
    if (mcp__url_parse(id, &u) != MCP_OK)
        return false;
    bool ok = strcmp(u.scheme, "https") == 0 ||
              (as->opts.cimd_allow_internal && strcmp(u.scheme, "http") == 0 &&
               mcp__url_is_loopback(&u));
    /* a path component is required; no dot segments; no userinfo */
    const char *auth = strstr(id, "://") + 3;
    size_t alen = strcspn(auth, "/?");
    ok = ok && u.path[0] == '/' && u.path[1] != '\0' && memchr(auth, '@', alen) == NULL &&
         strstr(u.path, "/./") == NULL && strstr(u.path, "/../") == NULL &&
         (strlen(u.path) < 2 || strcmp(u.path + strlen(u.path) - 2, "/.") != 0) &&
         (strlen(u.path) < 3 || strcmp(u.path + strlen(u.path) - 3, "/..") != 0);
    mcp__url_cleanup(&u);
    return ok;
}

/* Build the client row from a fetched document. MCP_ERR_INVALID_ARG with why set. */
static mcp_status
cimd_parse(const char *id, const char *body, size_t len, mcp__store_as_client *cl,
           const char **why)
{
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    mcp_status rc = MCP_ERR_INVALID_ARG;
    mcp_buf ru;
    mcp__buf_init(&ru, 8u << 10);
    const char *cid = json_string_value(json_object_get(doc, "client_id"));
    json_t *uris = json_object_get(doc, "redirect_uris");
    json_t *am = json_object_get(doc, "token_endpoint_auth_method");
    const char *name = json_string_value(json_object_get(doc, "client_name"));
    if (!json_is_object(doc))
        *why = "the document is not a JSON object";
    else if (cid == NULL || strcmp(cid, id) != 0)
        *why = "the document's client_id is not its URL";
    else if (json_object_get(doc, "client_secret") != NULL ||
             json_object_get(doc, "client_secret_expires_at") != NULL)
        *why = "the document carries a client secret";
    else if (am != NULL && (!json_is_string(am) || strcmp(json_string_value(am), "none") != 0))
        *why = "token_endpoint_auth_method must be none";
    else if (!json_is_array(uris) || json_array_size(uris) == 0 || json_array_size(uris) > 16)
        *why = "redirect_uris must be an array of 1 to 16 URIs";
    else {
        rc = MCP_OK;
        size_t i;
        json_t *v;
        json_array_foreach(uris, i, v) {
            const char *s = json_string_value(v);
            if (s == NULL || !mcp__as_redirect_form_ok(s) || strlen(s) > 1024) {
                *why = "a redirect URI is malformed";
                rc = MCP_ERR_INVALID_ARG;
                break;
            }
            if ((i > 0 && mcp__buf_appends(&ru, " ") != MCP_OK) ||
                mcp__buf_appends(&ru, s) != MCP_OK) {
                rc = MCP_ERR_NOMEM;
                break;
            }
        }
    }
    if (rc == MCP_OK && name != NULL && (strlen(name) > 200 || name[0] == '\0'))
        name = NULL;
    if (rc == MCP_OK) {
        memset(cl, 0, sizeof *cl);
        cl->id = mcp__strdup(id);
        cl->secret_hash = mcp__strdup("");
        cl->name = mcp__strdup(name != NULL ? name : id);
        cl->redirect_uris = mcp__strndup(ru.ptr != NULL ? ru.ptr : "", ru.len);
        cl->scope = mcp__strdup("");
        cl->owner = mcp__strdup("");
        cl->jwks = mcp__strdup("");
        cl->created = mcp__unix_now();
        if (cl->id == NULL || cl->secret_hash == NULL || cl->name == NULL ||
            cl->redirect_uris == NULL || cl->scope == NULL || cl->owner == NULL ||
            cl->jwks == NULL) {
            mcp__store_as_client_cleanup(cl);
            rc = MCP_ERR_NOMEM;
        }
    }
    mcp__buf_cleanup(&ru);
    json_decref(doc);
    return rc;
}

static mcp_status
copy_client(const mcp__store_as_client *src, mcp__store_as_client *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->id = mcp__strdup(src->id);
    dst->secret_hash = mcp__strdup(src->secret_hash);
    dst->name = mcp__strdup(src->name);
    dst->redirect_uris = mcp__strdup(src->redirect_uris);
    dst->scope = mcp__strdup(src->scope);
    dst->owner = mcp__strdup(src->owner);
    dst->jwks = mcp__strdup(src->jwks);
    dst->created = src->created;
    if (dst->id == NULL || dst->secret_hash == NULL || dst->name == NULL ||
        dst->redirect_uris == NULL || dst->scope == NULL || dst->owner == NULL ||
        dst->jwks == NULL) {
        mcp__store_as_client_cleanup(dst);
        return MCP_ERR_NOMEM;
    }
    return MCP_OK;
}

static bool
cache_get(mcp_as *as, const char *id, int64_t now, mcp__store_as_client *out)
{
    bool hit = false;
    pthread_mutex_lock(&as->cimd_mu);
    for (size_t i = 0; i < MCP__AS_CIMD_SLOTS && !hit; i++) {
        mcp__as_cimd_slot *s = &as->cimd[i];
        if (s->client.id != NULL && strcmp(s->client.id, id) == 0 && now < s->expires)
            hit = copy_client(&s->client, out) == MCP_OK;
    }
    pthread_mutex_unlock(&as->cimd_mu);
    return hit;
}

static void
cache_put(mcp_as *as, const mcp__store_as_client *cl, int64_t now)
{
    pthread_mutex_lock(&as->cimd_mu);
    size_t pick = 0;
    for (size_t i = 0; i < MCP__AS_CIMD_SLOTS; i++) {
        mcp__as_cimd_slot *s = &as->cimd[i];
        if (s->client.id == NULL || strcmp(s->client.id, cl->id) == 0 || s->expires <= now) {
            pick = i;
            break;
        }
        if (s->expires < as->cimd[pick].expires)
            pick = i;
    }
    mcp__as_cimd_slot *s = &as->cimd[pick];
    mcp__store_as_client_cleanup(&s->client);
    memset(&s->client, 0, sizeof s->client);
    if (copy_client(cl, &s->client) == MCP_OK)
        s->expires = now + MCP__AS_CIMD_TTL;
    pthread_mutex_unlock(&as->cimd_mu);
}

void
mcp__as_cimd_cleanup(mcp_as *as)
{
    for (size_t i = 0; i < MCP__AS_CIMD_SLOTS; i++)
        mcp__store_as_client_cleanup(&as->cimd[i].client);
}

mcp_status
mcp__as_client_get(mcp_as *as, const char *id, mcp__store_as_client *cl, mcp_error *err)
{
    if (!mcp__as_cimd_id(id))
        return mcp__store_as_client_get(as->opts.store, id, cl, err);
    int64_t now = mcp__unix_now();
    if (!cimd_url_ok(as, id)) {
        mcp__log(MCP__LOG_WARN, "as", "client metadata document %.200s: not an acceptable "
                 "https URL", id);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "client metadata document: the client_id is not an acceptable "
                             "https URL");
    }
    if (cache_get(as, id, now, cl))
        return MCP_OK;
    static const char *const hdrs[] = { "Accept: application/json", NULL };
    mcp__net_req rq = {
        .url = id,
        .headers = hdrs,
        .max_body = MCP__AS_CIMD_MAX_BODY,
        .timeout_ms = MCP__AS_CIMD_TIMEOUT_MS,
        .max_redirects = 0,
        .rule = MCP__NET_HTTPS_OR_LOOPBACK,
        .addr_rule = as->opts.cimd_allow_internal ? MCP__NET_ADDR_ANY
                                                  : MCP__NET_ADDR_PUBLIC_ONLY,
    };
    mcp__net_resp rs;
    memset(&rs, 0, sizeof rs);
    mcp_status rc = mcp__net_fetch(&rq, &rs, NULL);
    if (rc == MCP_ERR_NOMEM)
        return mcp_error_set(err, rc, NULL);
    if (rc != MCP_OK) {
        mcp__log(MCP__LOG_WARN, "as", "client metadata document %s: not fetched (%s)", id,
                 rs.detail[0] != '\0' ? rs.detail : mcp_status_str(rc));
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "client metadata document: not fetched");
    }
    const char *why = NULL;
    if (rs.status != 200) {
        why = "the document's URL did not answer 200";
        rc = MCP_ERR_INVALID_ARG;
    } else {
        rc = cimd_parse(id, rs.body, rs.body_len, cl, &why);
    }
    mcp__net_resp_cleanup(&rs);
    if (rc == MCP_ERR_NOMEM)
        return mcp_error_set(err, rc, NULL);
    if (rc != MCP_OK) {
        mcp__log(MCP__LOG_WARN, "as", "client metadata document %s: %s", id, why);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "client metadata document: %s", why);
    }
    cache_put(as, cl, now);
    return MCP_OK;
}
