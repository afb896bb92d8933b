/*
 * API keys: "mcp_<id>_<secret>".
 *
 * The id (12 characters of the RFC 4648 base32 alphabet, lowercase: 60 random bits) is the
 * lookup key and is not secret; it appears in listings and logs. The secret is 32 random bytes
 * in base64url (43 characters, 256 bits). The store keeps only SHA-256 of the secret's text.
 *
 * Why plain SHA-256 and not a slow password hash or an HMAC with a pepper: the secret is 256
 * random bits, so an attacker holding the hashes cannot guess secrets whatever the hash speed,
 * and slow hashing would only make every request slower. A pepper (HMAC key kept outside the
 * file) would protect nothing more for such secrets, and would be one more secret that the server
 * and mcp-admin must share. The hash is compared with mcp_ct_equal().
 */
#include "store/internal.h"

#include <openssl/evp.h>
#include <string.h>

#define KEY_HASH_LEN 32

static const char id_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

bool
mcp_apikey_looks_like(const char *s)
{
    return s != NULL && strncmp(s, MCP_APIKEY_PREFIX, 4) == 0;
}

static bool
is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

static bool
is_b64url_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
}

static bool
valid_key_id(const char *id, size_t len)
{
    if (len != MCP_APIKEY_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_id_char(id[i]))
            return false;
    return true;
}

/* Split a presented key into id (copied, NUL-terminated) and secret (pointer into key). */
static bool
parse_key(const char *key, size_t len, char id[MCP_APIKEY_ID_LEN + 1], const char **secret)
{
    if (key == NULL || len != MCP_APIKEY_LEN || memcmp(key, MCP_APIKEY_PREFIX, 4) != 0)
        return false;
    if (!valid_key_id(key + 4, MCP_APIKEY_ID_LEN) || key[4 + MCP_APIKEY_ID_LEN] != '_')
        return false;
    const char *sec = key + 4 + MCP_APIKEY_ID_LEN + 1;
    for (size_t i = 0; i < MCP_APIKEY_SECRET_LEN; i++)
        if (!is_b64url_char(sec[i]))
            return false;
    memcpy(id, key + 4, MCP_APIKEY_ID_LEN);
    id[MCP_APIKEY_ID_LEN] = '\0';
    *secret = sec;
    return true;
}

static mcp_status
hash_secret(const char *secret, unsigned char out[KEY_HASH_LEN], mcp_error *err)
{
    if (KEY_HASH_LEN != 32 || !mcp__sha256(secret, MCP_APIKEY_SECRET_LEN, out))
        return mcp_error_set(err, MCP_ERR_INTERNAL, "SHA-256 failed");
    return MCP_OK;
}

/* ---- creating, listing, revoking -------------------------------------------------------- */

mcp_status
mcp_store_key_create(mcp_store *s, const char *owner, const char *label, int64_t ttl_s,
                     char **key_out, char key_id[MCP_APIKEY_ID_LEN + 1], mcp_error *err)
{
    unsigned char rnd[MCP_APIKEY_ID_LEN + 32];
    unsigned char hash[KEY_HASH_LEN];
    char id[MCP_APIKEY_ID_LEN + 1];
    char *secret = NULL, *key = NULL;
    mcp_status rc = MCP_OK;

    if (key_out != NULL)
        *key_out = NULL;
    if (s == NULL || key_out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store or key output is missing");
    rc = mcp__store_check_text("owner", owner, MCP_STORE_SUBJECT_MAX, false, err);
    if (rc == MCP_OK && label != NULL)
        rc = mcp__store_check_text("label", label, MCP_STORE_NAME_MAX, true, err);
    if (rc != MCP_OK)
        return rc;
    int64_t now = mcp__unix_now();
    if (ttl_s < 0 || ttl_s > INT64_MAX - now)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "ttl out of range");

    /* Retry on the (2^-60 per pair) chance that the id is taken. */
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = mcp_random_bytes(rnd, sizeof rnd, err);
        if (rc != MCP_OK)
            goto out;
        for (size_t i = 0; i < MCP_APIKEY_ID_LEN; i++)
            id[i] = id_alphabet[rnd[i] & 31]; /* 256 is a multiple of 32: no bias */
        id[MCP_APIKEY_ID_LEN] = '\0';
        secret = mcp__b64url_encode(rnd + MCP_APIKEY_ID_LEN, 32);
        if (secret == NULL || strlen(secret) != MCP_APIKEY_SECRET_LEN) {
            rc = mcp_error_set(err, secret == NULL ? MCP_ERR_NOMEM : MCP_ERR_INTERNAL,
                               "cannot encode the key");
            goto out;
        }
        rc = hash_secret(secret, hash, err);
        if (rc != MCP_OK)
            goto out;

        mcp__store_conn *c;
        rc = mcp__store_write_begin(s, &c, err);
        if (rc != MCP_OK)
            goto out;
        bool found = false;
        rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM users WHERE subject = ?", "t",
                               owner);
        if (rc == MCP_OK && !found)
            rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such user");
        bool taken = false;
        if (rc == MCP_OK)
            rc = mcp__store_exists(c, &taken, err, "SELECT 1 FROM api_keys WHERE id = ?", "t", id);
        if (rc == MCP_OK && !taken)
            rc = mcp__store_exec(c, NULL, err,
                                 "INSERT INTO api_keys(id, hash, owner, label, created, expires)"
                                 " VALUES (?, ?, ?, ?, ?, NULLIF(?, 0))", "tbttii", id, hash,
                                 (size_t)KEY_HASH_LEN, owner, label != NULL ? label : "", now,
                                 ttl_s > 0 ? now + ttl_s : (int64_t)0);
        rc = mcp__store_write_end(s, c, taken ? MCP_ERR_STATE : rc, err);
        if (!taken)
            break;
        mcp_memzero(secret, strlen(secret));
        mcp__free(secret);
        secret = NULL;
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "could not pick an unused key id");
    }
    if (rc != MCP_OK)
        goto out;

    key = mcp__alloc(MCP_APIKEY_LEN + 1);
    if (key == NULL) {
        /* The row exists but nobody can ever know its secret: harmless, and revocable. */
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(key, MCP_APIKEY_PREFIX, 4);
    memcpy(key + 4, id, MCP_APIKEY_ID_LEN);
    key[4 + MCP_APIKEY_ID_LEN] = '_';
    memcpy(key + 4 + MCP_APIKEY_ID_LEN + 1, secret, MCP_APIKEY_SECRET_LEN);
    key[MCP_APIKEY_LEN] = '\0';
    *key_out = key;
    if (key_id != NULL)
        memcpy(key_id, id, sizeof id);
out:
    mcp_memzero(rnd, sizeof rnd);
    mcp_memzero(hash, sizeof hash);
    if (secret != NULL) {
        mcp_memzero(secret, strlen(secret));
        mcp__free(secret);
    }
    return rc;
}

mcp_status
mcp_store_key_revoke(mcp_store *s, const char *key_id, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    if (key_id == NULL || !valid_key_id(key_id, strnlen(key_id, MCP_APIKEY_ID_LEN + 1)))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "key id malformed");
    mcp__store_conn *c;
    mcp_status rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    bool found = false;
    rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM api_keys WHERE id = ?", "t", key_id);
    if (rc == MCP_OK && !found)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such key");
    /* Revoking twice keeps the first time. */
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                             "it", mcp__unix_now(), key_id);
    return mcp__store_write_end(s, c, rc, err);
}

typedef struct key_row {
    char   *id, *owner, *label;
    int64_t created, expires, revoked;
} key_row;

mcp_status
mcp_store_key_list(mcp_store *s, const char *owner, mcp_store_key_fn fn, void *ctx,
                   mcp_error *err)
{
    if (s == NULL || fn == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store or callback is missing");
    mcp_status rc = MCP_OK;
    if (owner != NULL)
        rc = mcp__store_check_text("owner", owner, MCP_STORE_SUBJECT_MAX, false, err);
    if (rc != MCP_OK)
        return rc;

    key_row *rows = NULL;
    size_t n = 0, cap = 0;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows q;
    bool row = false;
    rc = mcp__store_query(c, &q, err,
                          "SELECT id, owner, label, created,"
                          " COALESCE(expires, 0), COALESCE(revoked, 0)"
                          " FROM api_keys WHERE ?1 IS NULL OR owner = ?1"
                          " ORDER BY owner, created, id", "t", owner);
    while (rc == MCP_OK && (rc = mcp__store_next(&q, &row, "list keys", err)) == MCP_OK && row) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            key_row *r = mcp__realloc(rows, ncap * sizeof *r);
            if (r == NULL) {
                rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
                break;
            }
            rows = r;
            cap = ncap;
        }
        key_row *r = &rows[n++];
        const char *id = mcp__store_text(&q, 0), *ow = mcp__store_text(&q, 1),
                   *label = mcp__store_text(&q, 2);
        r->id = mcp__strdup(id != NULL ? id : "");
        r->owner = mcp__strdup(ow != NULL ? ow : "");
        r->label = mcp__strdup(label != NULL ? label : "");
        r->created = mcp__store_int(&q, 3);
        r->expires = mcp__store_int(&q, 4);
        r->revoked = mcp__store_int(&q, 5);
        if (r->id == NULL || r->owner == NULL || r->label == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            break;
        }
    }
    mcp__store_rows_end(&q);
    mcp__store_conn_release(c);

    for (size_t i = 0; rc == MCP_OK && i < n; i++) {
        mcp_store_key k = {
            .id = rows[i].id, .owner = rows[i].owner, .label = rows[i].label,
            .created = rows[i].created, .expires = rows[i].expires, .revoked = rows[i].revoked,
        };
        if (!fn(ctx, &k))
            break;
    }
    for (size_t i = 0; i < n; i++) {
        mcp__free(rows[i].id);
        mcp__free(rows[i].owner);
        mcp__free(rows[i].label);
    }
    mcp__free(rows);
    return rc;
}

/* ---- verification ----------------------------------------------------------------------- */

enum owner_state { OWNER_OK, OWNER_UNKNOWN, OWNER_DISABLED };

/* A key as the cache holds it: everything verification needs, including the principal it hands
 * out (immutable, shared by reference). Only keys that exist are cached: caching unknown ids
 * would let a flood of random ids evict the real ones, and a miss is one primary-key lookup. */
typedef struct key_entry {
    mcp__store_ref       ref;
    unsigned char        hash[KEY_HASH_LEN];
    bool                 hash_ok;  /* the stored hash had the right length */
    int64_t              expires;  /* 0 = never */
    bool                 revoked;
    enum owner_state     owner;
    const mcp_principal *principal; /* set when owner == OWNER_OK */
} key_entry;

static void
key_entry_destroy(mcp__store_ref *r)
{
    key_entry *k = (key_entry *)r;
    mcp_principal_unref(k->principal);
    mcp_memzero(k->hash, sizeof k->hash);
    mcp__free(k);
}

static mcp_status
build_principal(const char *id, const char *owner, const char *name, int64_t expires,
                const mcp__store_strlist *perms, const mcp_principal **out, mcp_error *err)
{
    mcp_principal_fields f = {
        .kind = MCP_CRED_API_KEY,
        .subject = owner,
        .name = name[0] != '\0' ? name : NULL,
        .key_id = id,
        .expires_at = expires,
    };
    mcp_principal *p = NULL;
    mcp_status rc = mcp_principal_new(&f, &p, err);
    const char *perm = perms->bytes.ptr;
    for (size_t i = 0; rc == MCP_OK && i < perms->n; i++) {
        rc = mcp_principal_add_permission(p, perm, err);
        perm += strlen(perm) + 1;
    }
    if (rc != MCP_OK) {
        mcp_principal_unref(p);
        return rc;
    }
    *out = p;
    return MCP_OK;
}

/* Read key id's row (with its owner and the owner's permissions) in one statement. *out stays
 * NULL when there is no such key. */
static mcp_status
load_key(mcp_store *s, const char *id, key_entry **out, mcp_error *err)
{
    mcp__store_strlist perms;
    mcp__store_strlist_init(&perms);
    mcp_status rc = MCP_OK;
    key_entry *k = NULL;
    char *owner = NULL, *name = NULL;

    *out = NULL;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows r;
    bool row = false;
    rc = mcp__store_query_stmt(c, &r, MCP__ST_KEY_GET, id, err);
    while (rc == MCP_OK && (rc = mcp__store_next(&r, &row, "read key", err)) == MCP_OK && row) {
        if (k == NULL) {
            k = mcp__calloc(1, sizeof *k);
            if (k == NULL) {
                rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
                break;
            }
            mcp__store_ref_init(&k->ref, key_entry_destroy);
            size_t hlen = 0;
            const void *h = mcp__store_blob(&r, 0, &hlen);
            if (h != NULL && hlen == KEY_HASH_LEN) {
                memcpy(k->hash, h, KEY_HASH_LEN);
                k->hash_ok = true;
            }
            const char *ow = mcp__store_text(&r, 1), *nm = mcp__store_text(&r, 6);
            owner = mcp__strdup(ow != NULL ? ow : "");
            name = mcp__strdup(nm != NULL ? nm : "");
            if (owner == NULL || name == NULL) {
                rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
                break;
            }
            k->expires = mcp__store_is_null(&r, 2) ? 0 : mcp__store_int(&r, 2);
            k->revoked = !mcp__store_is_null(&r, 3);
            if (mcp__store_int(&r, 4) == 0)
                k->owner = OWNER_UNKNOWN;
            else if (mcp__store_int(&r, 5) != 1)
                k->owner = OWNER_DISABLED;
            else
                k->owner = OWNER_OK;
        }
        const char *perm = mcp__store_text(&r, 7);
        if (perm != NULL && mcp__store_strlist_add(&perms, perm) != MCP_OK) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            break;
        }
    }
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);
    if (rc == MCP_OK && k != NULL && k->owner == OWNER_OK)
        rc = build_principal(id, owner, name, k->expires, &perms, &k->principal, err);
    mcp__free(owner);
    mcp__free(name);
    mcp__store_strlist_cleanup(&perms);
    if (rc == MCP_OK)
        *out = k;
    else if (k != NULL)
        mcp__store_ref_drop(&k->ref);
    return rc;
}

mcp_status
mcp_store_key_verify(mcp_store *s, const char *key, size_t len, const mcp_principal **out,
                     mcp_error *err)
{
    char id[MCP_APIKEY_ID_LEN + 1];
    const char *secret = NULL;
    unsigned char hash[KEY_HASH_LEN];

    if (out != NULL)
        *out = NULL;
    if (s == NULL || out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store or output is missing");
    if (!parse_key(key, len, id, &secret))
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "API key malformed");
    mcp_status rc = mcp__store_check_changes(s, err);
    if (rc != MCP_OK)
        return rc;

    uint64_t gen = atomic_load(&s->gen);
    key_entry *k = (key_entry *)mcp__store_cache_get(&s->keys, id, MCP_APIKEY_ID_LEN, gen);
    if (k == NULL) {
        rc = load_key(s, id, &k, err);
        if (rc != MCP_OK)
            return rc;
        if (k == NULL)
            return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "API key unknown");
        mcp__store_cache_put(&s->keys, id, MCP_APIKEY_ID_LEN, gen, &s->gen, &k->ref);
    }

    /* The secret is checked before anything else about the key is revealed. */
    rc = hash_secret(secret, hash, err);
    if (rc == MCP_OK && !(k->hash_ok && mcp_ct_equal(hash, sizeof hash, k->hash, sizeof k->hash)))
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "API key secret does not match");
    else if (rc == MCP_OK && k->revoked)
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "API key revoked");
    else if (rc == MCP_OK && k->expires != 0 && mcp__unix_now() >= k->expires)
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "API key expired");
    else if (rc == MCP_OK && k->owner == OWNER_UNKNOWN)
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "API key owner unknown");
    else if (rc == MCP_OK && k->owner == OWNER_DISABLED)
        rc = mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "API key owner disabled");
    if (rc == MCP_OK)
        *out = mcp_principal_ref(k->principal);
    mcp_memzero(hash, sizeof hash);
    mcp__store_ref_drop(&k->ref);
    return rc;
}
