/* The authorization server's administration API: passwords and registered clients. */
#include "as/internal.h"

#include <stdio.h>
#include <string.h>

#define PASSWORD_LOG2N 15

mcp_status
mcp_as_user_set_password(mcp_store *store, const char *subject, const char *password,
                         size_t len, mcp_error *err)
{
    if (store == NULL || subject == NULL || password == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (len < 8 || len > 1024)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "a password has 8 to 1024 bytes");
    if (memchr(password, '\0', len) != NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "a password cannot contain NUL");
    char *h = mcp__as_password_hash(password, len, PASSWORD_LOG2N);
    if (h == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "cannot hash the password");
    mcp_status rc = mcp__store_as_password_set(store, subject, h, err);
    mcp_memzero(h, strlen(h));
    mcp__free(h);
    return rc;
}

static bool
id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool
name_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n <= 255;
}

bool
mcp__as_redirect_form_ok(const char *u)
{
    /* absolute, no fragment, no spaces (the list is space-separated) */
    size_t n = strlen(u);
    if (n == 0 || n > 2000 || strpbrk(u, " #\"<>\\") != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
            return false;
    const char *colon = strchr(u, ':');
    return colon != NULL && colon > u && colon[1] != '\0';
}

mcp_status
mcp__as_client_jwks_check(const char *json, size_t len, char **out, mcp_error *err)
{
    *out = NULL;
    if (len == 0 || len > 64u << 10)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "client keys: 1 byte to 64 KiB of JSON");
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "client keys: not a JSON object");
    }
    json_t *keys = json_object_get(doc, "keys");
    if (keys == NULL) {
        /* one JWK: wrap it in a set */
        json_t *set = json_pack("{s:[o]}", "keys", doc);
        if (set == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        doc = set;
        keys = json_object_get(doc, "keys");
    }
    mcp_status rc = json_is_array(keys) && json_array_size(keys) > 0 && json_array_size(keys) <= 16
                        ? MCP_OK
                        : mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                        "client keys: \"keys\" must hold 1 to 16 keys");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (rc != MCP_OK)
            break;
        const char *kty = json_string_value(json_object_get(k, "kty"));
        if (!json_is_object(k) || kty == NULL)
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "client keys: key %zu has no kty", i + 1);
        else if (strcmp(kty, "oct") == 0)
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG,
                               "client keys: key %zu is symmetric (oct); private_key_jwt takes "
                               "public keys", i + 1);
        else if (json_object_get(k, "d") != NULL || json_object_get(k, "p") != NULL)
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG,
                               "client keys: key %zu is a private key; register its public part "
                               "only", i + 1);
    }
    char *txt = rc == MCP_OK ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    size_t nkeys = json_array_size(keys);
    json_decref(doc);
    if (rc == MCP_OK && txt == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (rc == MCP_OK) {
        /* every key must be one the verifier takes, each pinned to one algorithm */
        mcp_jwt_opts jo;
        mcp_jwt_opts_default(&jo);
        jo.allow_no_issuer = jo.allow_no_audience = true;
        jo.cache_size = 0;
        jo.jwks_refresh_s = 0;
        mcp_jwt_verifier *v = NULL;
        rc = mcp_jwt_verifier_new(&jo, &v, err);
        if (rc == MCP_OK)
            rc = mcp_jwt_verifier_add_jwks(v, txt, strlen(txt), err);
        if (rc == MCP_OK && mcp_jwt_verifier_key_count(v) != nkeys)
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG,
                               "client keys: a key is of an unsupported type, curve or use");
        mcp_jwt_verifier_free(v);
        if (rc != MCP_OK && err != NULL && strncmp(err->message, "client keys", 11) != 0) {
            char m[sizeof err->message];
            snprintf(m, sizeof m, "%s", err->message);
            mcp_error_set(err, MCP_ERR_INVALID_ARG, "client keys: %.200s", m);
        }
    }
    if (rc != MCP_OK) {
        mcp__free(txt);
        return rc;
    }
    *out = txt;   /* jansson allocates through mcp__alloc (as for the metadata) */
    return MCP_OK;
}

mcp_status
mcp_as_client_add(mcp_store *store, const mcp_as_client_def *def, char **secret_out,
                  mcp_error *err)
{
    if (secret_out != NULL)
        *secret_out = NULL;
    if (store == NULL || def == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (!id_ok(def->id))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "client id: 1..128 of letters, digits and . _ : -");
    if (def->confidential && secret_out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "a confidential client needs secret_out");
    if (def->jwks != NULL && def->confidential)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "a client authenticates with a secret or with keys (jwks), not "
                             "both");
    if (def->owner != NULL && !def->confidential && def->jwks == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "an owner (client_credentials) needs a confidential client");
    if (def->name != NULL && !name_ok(def->name))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "client name: at most 255 printable bytes");
    mcp_buf uris;
    mcp__buf_init(&uris, 64u << 10);
    mcp_status rc = MCP_OK;
    for (size_t i = 0; rc == MCP_OK && def->redirect_uris && def->redirect_uris[i]; i++) {
        if (!mcp__as_redirect_form_ok(def->redirect_uris[i]))
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "redirect URI %zu is malformed", i + 1);
        else
            rc = mcp__buf_printf(&uris, "%s%s", uris.len ? " " : "", def->redirect_uris[i]);
    }
    if (rc == MCP_OK)
        rc = mcp__buf_append(&uris, "", 1);
    if (rc == MCP_OK && def->owner != NULL) {
        mcp_store_user_info info;
        mcp_store_user_info_init(&info);
        rc = mcp_store_user_lookup(store, def->owner, &info, err);
        if (rc == MCP_OK && !info.exists)
            rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such user: the owner");
        mcp_store_user_info_cleanup(&info);
    }
    char *jwks = NULL;
    if (rc == MCP_OK && def->jwks != NULL)
        rc = mcp__as_client_jwks_check(def->jwks, strlen(def->jwks), &jwks, err);
    char *secret = NULL;
    char hash[65] = "";
    if (rc == MCP_OK && def->confidential) {
        if ((secret = mcp__as_random_token()) == NULL ||
            !mcp__as_sha256_hex(secret, strlen(secret), hash))
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    if (rc == MCP_OK) {
        mcp__store_as_client c = {
            .id = (char *)def->id, .secret_hash = hash,
            .name = (char *)(def->name != NULL ? def->name : ""), .redirect_uris = uris.ptr,
            .scope = (char *)"", .owner = (char *)(def->owner != NULL ? def->owner : ""),
            .jwks = jwks != NULL ? jwks : (char *)"",
        };
        rc = mcp__store_as_client_add(store, &c, err);
    }
    mcp__free(jwks);
    mcp__buf_cleanup(&uris);
    if (rc == MCP_OK && secret != NULL) {
        *secret_out = secret;
        secret = NULL;
    }
    if (secret != NULL) {
        mcp_memzero(secret, strlen(secret));
        mcp__free(secret);
    }
    return rc;
}

mcp_status
mcp_as_client_remove(mcp_store *store, const char *id, mcp_error *err)
{
    return mcp__store_as_client_remove(store, id, err);
}

typedef struct list_ctx {
    bool (*fn)(void *ctx, const mcp_as_client_info *c);
    void *ctx;
} list_ctx;

static bool
list_one(void *vctx, const mcp__store_as_client *c)
{
    list_ctx *l = vctx;
    mcp_as_client_info i = {
        .id = c->id, .name = c->name, .redirect_uris = c->redirect_uris,
        .confidential = mcp__as_client_confidential(c), .owner = c->owner,
        .created = c->created, .private_key_jwt = c->jwks[0] != '\0',
    };
    return l->fn(l->ctx, &i);
}

mcp_status
mcp_as_client_list(mcp_store *store, bool (*fn)(void *ctx, const mcp_as_client_info *c),
                   void *ctx, mcp_error *err)
{
    if (fn == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing callback");
    list_ctx l = { fn, ctx };
    return mcp__store_as_client_list(store, list_one, &l, err);
}
