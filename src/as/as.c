/*
 * The embedded authorization server: the object, its signing key, the metadata documents, the
 * route that dispatches its endpoints, and access-token minting. The login page is in
 * as_authorize.c, the token endpoint in as_token.c, the administration API in as_admin.c.
 *
 * Signing key: one EC P-256 key (ES256) in a PEM file that the server creates on first start
 * (mode 0600). Its `kid` is the RFC 7638 thumbprint, so a key replaced in the file gets a new
 * kid and tokens signed with the old one fail verification instead of being checked against the
 * wrong key.
 */
#include "as/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
mcp_as_opts_default(mcp_as_opts *o)
{
    memset(o, 0, sizeof *o);
    o->access_ttl_s = 300;
    o->refresh_ttl_s = 14 * 86400;
    o->code_ttl_s = 60;
    o->login_fail_limit = 5;
    o->login_fail_addr_limit = 20;
    o->login_fail_window_s = 300;
}

/* ---- the signing key -------------------------------------------------------------------- */

static mcp_status
read_file(const char *path, char **out, mcp_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot open", path);
    char *buf = mcp__alloc(16384 + 1);
    size_t n = buf != NULL ? fread(buf, 1, 16384, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (buf == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (bad || n == 0 || n >= 16384) {
        mcp_memzero(buf, 16385);
        mcp__free(buf);
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: unreadable, empty or too large",
                             path);
    }
    buf[n] = '\0';
    *out = buf;
    return MCP_OK;
}

static mcp_status
create_key(const char *path, mcp_error *err)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL)
        return mcp_error_set(err, MCP_ERR_INTERNAL, "signing key: cannot generate");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        EVP_PKEY_free(k);
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot create", path);
    }
    FILE *f = fdopen(fd, "wb");
    bool ok = f != NULL && fchmod(fd, 0600) == 0 &&
              PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    else
        close(fd);
    EVP_PKEY_free(k);
    if (!ok) {
        unlink(path);
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot write", path);
    }
    mcp__log(MCP__LOG_INFO, "as", "created signing key %s", path);
    return MCP_OK;
}

static char *
coord_b64(EVP_PKEY *k, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char c[32];
    char *out = NULL;
    if (EVP_PKEY_get_bn_param(k, param, &bn) == 1 && BN_bn2binpad(bn, c, sizeof c) == 32)
        out = mcp__b64url_encode(c, sizeof c);
    BN_free(bn);
    return out;
}

/* Read the PEM at path (an EC P-256 private key): the PEM, its kid (RFC 7638 thumbprint) and
 * its public JWK. */
static mcp_status
load_pem(const char *path, char **pem_out, char **kid_out, json_t **jwk_out, mcp_error *err)
{
    *pem_out = *kid_out = NULL;
    *jwk_out = NULL;
    char *pem = NULL;
    mcp_status rc = read_file(path, &pem, err);
    if (rc != MCP_OK)
        return rc;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char curve[32] = "";
    size_t cl = 0;
    if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve,
                                       &cl) != 1 ||
        strcmp(curve, "prime256v1") != 0) {
        EVP_PKEY_free(k);
        mcp_memzero(pem, strlen(pem));
        mcp__free(pem);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "signing key %s: not an EC P-256 private key", path);
    }
    char *x = coord_b64(k, OSSL_PKEY_PARAM_EC_PUB_X), *y = coord_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y);
    EVP_PKEY_free(k);
    char *thumb_in = NULL, *kid = NULL;
    unsigned char h[32];
    json_t *jwk = NULL;
    /* RFC 7638: the required members in lexicographic order, no spaces */
    if (x == NULL || y == NULL ||
        (thumb_in = mcp__aprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x,
                                 y)) == NULL ||
        !mcp__sha256(thumb_in, strlen(thumb_in), h) ||
        (kid = mcp__b64url_encode(h, sizeof h)) == NULL ||
        (jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x",
                         x, "y", y, "kid", kid, "alg", "ES256", "use", "sig")) == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    mcp__free(thumb_in);
    mcp__free(x);
    mcp__free(y);
    if (rc != MCP_OK) {
        mcp__free(kid);
        mcp_memzero(pem, strlen(pem));
        mcp__free(pem);
        return rc;
    }
    *pem_out = pem;
    *kid_out = kid;
    *jwk_out = jwk;
    return MCP_OK;
}

static void
pem_free(char *pem)
{
    if (pem != NULL) {
        mcp_memzero(pem, strlen(pem));
        mcp__free(pem);
    }
}

/* "<key_file>.retired.<unix seconds>": the seconds, or -1 for another name. */
static int64_t
retired_at(const char *base, const char *name)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".retired.", 9) != 0)
        return -1;
    const char *d = name + bl + 9;
    if (*d == '\0' || strspn(d, "0123456789") != strlen(d) || strlen(d) > 12)
        return -1;
    return (int64_t)strtoll(d, NULL, 10);
}

/* How long a retired key is still published: the lifetime of the last token it signed, and a
 * minute for the clock skew verifiers allow. */
static int64_t
retired_grace(const mcp_as *as)
{
    return (int64_t)as->opts.access_ttl_s + 60;
}

static void
old_key_add(mcp_as *as, char *kid, json_t *jwk, int64_t drop_at)
{
    if (as->nold == MCP__AS_OLD_KEYS) {
        /* the oldest goes first (it is the nearest to its end anyway) */
        mcp__free(as->old[0].kid);
        json_decref(as->old[0].jwk);
        memmove(&as->old[0], &as->old[1], (MCP__AS_OLD_KEYS - 1) * sizeof as->old[0]);
        as->nold--;
    }
    as->old[as->nold++] = (mcp__as_old_key){ .kid = kid, .jwk = jwk, .drop_at = drop_at };
}

/* Load the retired keys beside the key file whose tokens may still be in use; delete the
 * others. */
static void
load_retired(mcp_as *as, int64_t now)
{
    char *dir = mcp__strdup(as->key_path);
    if (dir == NULL)
        return;
    char *slash = strrchr(dir, '/');
    const char *base = slash != NULL ? slash + 1 : dir;
    const char *dname = ".";
    if (slash != NULL) {
        *slash = '\0';
        dname = dir[0] != '\0' ? dir : "/";
    }
    DIR *d = opendir(dname);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        int64_t at = retired_at(base, de->d_name);
        if (at < 0)
            continue;
        char *path = mcp__aprintf("%s/%s", dname, de->d_name);
        if (path == NULL)
            continue;
        if (at + retired_grace(as) <= now) {
            if (unlink(path) == 0)
                mcp__log(MCP__LOG_INFO, "as", "removed retired signing key %s: its tokens have "
                         "expired", path);
        } else {
            char *pem = NULL, *kid = NULL;
            json_t *jwk = NULL;
            mcp_error e;
            if (load_pem(path, &pem, &kid, &jwk, &e) == MCP_OK) {
                pem_free(pem);
                old_key_add(as, kid, jwk, at + retired_grace(as));
            } else {
                mcp__log(MCP__LOG_WARN, "as", "retired signing key skipped: %s", e.message);
            }
        }
        mcp__free(path);
    }
    if (d != NULL)
        closedir(d);
    mcp__free(dir);
}

static void
key_stamp(mcp_as *as)
{
    struct stat sb;
    if (stat(as->key_path, &sb) == 0) {
        as->key_ino = sb.st_ino;
        as->key_mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    }
}

static mcp_status
load_key(mcp_as *as, mcp_error *err)
{
    struct stat sb;
    mcp_status rc;
    if (stat(as->key_path, &sb) != 0) {
        if (errno != ENOENT)
            return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot stat", as->key_path);
        if ((rc = create_key(as->key_path, err)) != MCP_OK)
            return rc;
    }
    if ((rc = load_pem(as->key_path, &as->key_pem, &as->kid, &as->cur_jwk, err)) != MCP_OK)
        return rc;
    if ((as->pkey = mcp__jwt_pem_private_key(as->key_pem, strlen(as->key_pem))) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    key_stamp(as);
    load_retired(as, mcp__unix_now());
    as->jwks_json = mcp__as_jwks_at(as, INT64_MIN);
    return as->jwks_json != NULL ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
}

char *
mcp__as_jwks_at(mcp_as *as, int64_t now)
{
    json_t *keys = json_array();
    pthread_rwlock_rdlock(&as->key_mu);
    bool ok = keys != NULL && json_array_append(keys, as->cur_jwk) == 0;
    for (size_t i = 0; ok && i < as->nold; i++)
        if (as->old[i].drop_at > now)
            ok = json_array_append(keys, as->old[i].jwk) == 0;
    pthread_rwlock_unlock(&as->key_mu);
    json_t *doc = ok ? json_pack("{s:o}", "keys", keys) : NULL;
    if (doc == NULL && !ok)
        json_decref(keys);
    char *out = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return out;
}

/*
 * The key file replaced (mcp-admin as rotate-key): sign with the new key from now on, keep the
 * old one in /jwks for the lifetime of its last tokens, and let the verifiers know the new one.
 * Checked at most once a second (a stat), from the minting path.
 */
void
mcp__as_key_check(mcp_as *as, int64_t now, bool force)
{
    int64_t last = atomic_load(&as->key_checked);
    if (!force && (now <= last || !atomic_compare_exchange_strong(&as->key_checked, &last, now)))
        return;
    if (force)
        atomic_store(&as->key_checked, now);
    struct stat sb;
    if (stat(as->key_path, &sb) != 0)
        return;   /* gone for a moment (a rename in progress): keep the key in memory */
    int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    pthread_rwlock_rdlock(&as->key_mu);
    bool same = sb.st_ino == as->key_ino && mt == as->key_mtime;
    pthread_rwlock_unlock(&as->key_mu);
    if (same)
        return;
    char *pem = NULL, *kid = NULL;
    json_t *jwk = NULL;
    mcp_error e;
    if (load_pem(as->key_path, &pem, &kid, &jwk, &e) != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "as", "signing key changed but unusable, the old one stays: %s",
                 e.message);
        pthread_rwlock_wrlock(&as->key_mu);
        as->key_ino = sb.st_ino;
        as->key_mtime = mt;
        pthread_rwlock_unlock(&as->key_mu);
        return;
    }
    EVP_PKEY *pk = mcp__jwt_pem_private_key(pem, strlen(pem));
    if (pk == NULL) {
        pem_free(pem);
        mcp__free(kid);
        json_decref(jwk);
        return;
    }
    json_t *one = json_pack("{s:[O]}", "keys", jwk);
    char *one_s = one != NULL ? json_dumps(one, JSON_COMPACT) : NULL;
    json_decref(one);
    /* the verifiers first: a token signed with the new key must verify at once */
    mcp_status rc = one_s != NULL ? MCP_OK : MCP_ERR_NOMEM;
    if (rc == MCP_OK)
        rc = mcp_jwt_verifier_add_jwks(as->verifier, one_s, strlen(one_s), &e);
    if (rc == MCP_OK && as->opts.verifier != NULL)
        rc = mcp_jwt_verifier_add_jwks(as->opts.verifier, one_s, strlen(one_s), &e);
    mcp__free(one_s);
    if (rc != MCP_OK) {
        mcp__log(MCP__LOG_ERROR, "as", "new signing key not taken: %s", e.message);
        EVP_PKEY_free(pk);
        pem_free(pem);
        mcp__free(kid);
        json_decref(jwk);
        return;
    }
    pthread_rwlock_wrlock(&as->key_mu);
    if (strcmp(kid, as->kid) == 0) {
        EVP_PKEY_free(pk);
        pem_free(pem);
        mcp__free(kid);
        json_decref(jwk);
    } else {
        mcp__log(MCP__LOG_INFO, "as", "signing key rotated: kid %s; the old kid %s stays in /jwks "
                 "for %lld s", kid, as->kid, (long long)retired_grace(as));
        old_key_add(as, as->kid, as->cur_jwk, now + retired_grace(as));
        pem_free(as->key_pem);
        EVP_PKEY_free(as->pkey);
        as->pkey = pk;
        as->key_pem = pem;
        as->kid = kid;
        as->cur_jwk = jwk;
    }
    as->key_ino = sb.st_ino;
    as->key_mtime = mt;
    pthread_rwlock_unlock(&as->key_mu);
}

mcp_status
mcp_as_rotate_key(const char *key_file, char **kid_out, mcp_error *err)
{
    if (kid_out != NULL)
        *kid_out = NULL;
    if (key_file == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing key file");
    struct stat sb;
    if (stat(key_file, &sb) != 0)
        return mcp_error_set(err, MCP_ERR_NOT_FOUND,
                             "signing key %s: no such file (the server creates it on its first "
                             "start)", key_file);
    char *next = mcp__aprintf("%s.next", key_file);
    char *retired = mcp__aprintf("%s.retired.%lld", key_file, (long long)mcp__unix_now());
    mcp_status rc = next != NULL && retired != NULL ? MCP_OK
                                                    : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (rc == MCP_OK) {
        (void)unlink(next);   /* left by an interrupted rotation */
        rc = create_key(next, err);
    }
    /* the old key stays readable under its retired name (hard link, then the new key takes
     * the name in one rename: a server never finds the file missing) */
    if (rc == MCP_OK && link(key_file, retired) != 0) {
        rc = mcp_error_set(err, MCP_ERR_IO,
                           errno == EEXIST ? "signing key %s: rotated already this second"
                                           : "signing key %s: cannot keep the old key",
                           key_file);
        unlink(next);
    }
    if (rc == MCP_OK && rename(next, key_file) != 0) {
        rc = mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot install the new key",
                           key_file);
        unlink(retired);
        unlink(next);
    }
    char *pem = NULL, *kid = NULL;
    json_t *jwk = NULL;
    if (rc == MCP_OK && (rc = load_pem(key_file, &pem, &kid, &jwk, err)) == MCP_OK) {
        pem_free(pem);
        json_decref(jwk);
        if (kid_out != NULL)
            *kid_out = kid;
        else
            mcp__free(kid);
    }
    mcp__free(next);
    mcp__free(retired);
    return rc;
}

/* ---- metadata --------------------------------------------------------------------------- */

static mcp_status
build_metadata(mcp_as *as, mcp_error *err)
{
    const char *is = as->issuer;
    char *az = mcp__aprintf("%s/authorize", is), *tk = mcp__aprintf("%s/token", is),
         *jw = mcp__aprintf("%s/jwks", is), *rv = mcp__aprintf("%s/revoke", is);
    json_t *doc = NULL;
    /* private_key_jwt: what the JWT verifier checks (no HMAC: that would be client_secret_jwt) */
    json_t *algs = json_pack("[s,s,s,s,s,s,s,s,s]", "ES256", "ES384", "EdDSA", "RS256", "RS384",
                             "RS512", "PS256", "PS384", "PS512");
    if (az != NULL && tk != NULL && jw != NULL && rv != NULL && algs != NULL)
        doc = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s,s,s], s:[s,s,s,s],"
                        " s:[s], s:b, s:b}",
                        "issuer", is, "authorization_endpoint", az, "token_endpoint", tk,
                        "jwks_uri", jw, "response_types_supported", "code",
                        "response_modes_supported", "query", "grant_types_supported",
                        "authorization_code", "refresh_token", "client_credentials",
                        "token_endpoint_auth_methods_supported", "none", "client_secret_basic",
                        "client_secret_post", "private_key_jwt",
                        "code_challenge_methods_supported", "S256",
                        "authorization_response_iss_parameter_supported", 1,
                        "client_id_metadata_document_supported", 1);
    if (doc != NULL && (json_object_set_new(doc, "revocation_endpoint", json_string(rv)) != 0 ||
                        json_object_set_new(doc, "revocation_endpoint_auth_methods_supported",
                                            json_pack("[s,s,s,s]", "none", "client_secret_basic",
                                                      "client_secret_post",
                                                      "private_key_jwt")) != 0 ||
                        json_object_set_new(doc, "token_endpoint_auth_signing_alg_values_supported",
                                            json_deep_copy(algs)) != 0 ||
                        json_object_set_new(doc,
                                            "revocation_endpoint_auth_signing_alg_values_supported",
                                            json_deep_copy(algs)) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    char *in = mcp__aprintf("%s/introspect", is);
    if (doc != NULL &&
        (in == NULL || json_object_set_new(doc, "introspection_endpoint", json_string(in)) != 0 ||
         json_object_set_new(doc, "introspection_endpoint_auth_methods_supported",
                             json_pack("[s,s,s]", "client_secret_basic", "client_secret_post",
                                       "private_key_jwt")) != 0 ||
         json_object_set_new(doc, "introspection_endpoint_auth_signing_alg_values_supported",
                             json_deep_copy(algs)) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    mcp__free(in);
    json_decref(algs);
    char *rg = as->opts.registration ? mcp__aprintf("%s/register", is) : NULL;
    if (doc != NULL && as->opts.registration &&
        (rg == NULL || json_object_set_new(doc, "registration_endpoint", json_string(rg)) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    mcp__free(rg);
    mcp__free(rv);
    mcp__free(az);
    mcp__free(tk);
    mcp__free(jw);
    if (doc != NULL)
        as->metadata_json = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return as->metadata_json != NULL ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static bool
issuer_ok(const char *is)
{
    const char *rest = strncmp(is, "https://", 8) == 0 ? is + 8
                       : strncmp(is, "http://", 7) == 0 ? is + 7 : NULL;
    if (rest == NULL || rest[0] == '\0' || strlen(is) > 512)
        return false;
    /* RFC 8414 section 2: no query or fragment; we also serve at the origin, so no path */
    return strpbrk(rest, "/?#\"\\ ") == NULL;
}

mcp_status
mcp_as_new(const mcp_as_opts *opts, mcp_as **out, mcp_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (opts == NULL || out == NULL || opts->store == NULL || opts->issuer == NULL ||
        opts->key_file == NULL || opts->resources == NULL || opts->resources[0] == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "authorization server: issuer, resources, store and key_file are "
                             "required");
    if (!issuer_ok(opts->issuer))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "authorization server: the issuer must be an http(s) origin with "
                             "no path");
    if (opts->code_ttl_s > 600)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "authorization server: codes live at most 600 seconds");
    mcp_as *as = mcp__calloc(1, sizeof *as);
    if (as == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    as->opts = *opts;
    mcp_as_opts d;
    mcp_as_opts_default(&d);
    if (as->opts.access_ttl_s == 0)
        as->opts.access_ttl_s = d.access_ttl_s;
    if (as->opts.refresh_ttl_s == 0)
        as->opts.refresh_ttl_s = d.refresh_ttl_s;
    if (as->opts.code_ttl_s == 0)
        as->opts.code_ttl_s = d.code_ttl_s;
    if (as->opts.login_fail_window_s == 0)
        as->opts.login_fail_window_s = d.login_fail_window_s;
    pthread_mutex_init(&as->throttle_mu, NULL);
    pthread_mutex_init(&as->cimd_mu, NULL);
    pthread_rwlock_init(&as->key_mu, NULL);
    atomic_init(&as->key_checked, 0);
    size_t n = 0;
    while (opts->resources[n] != NULL)
        n++;
    as->issuer = mcp__strdup(opts->issuer);
    as->resources = mcp__calloc(n + 1, sizeof *as->resources);
    mcp_status rc = as->issuer != NULL && as->resources != NULL
                        ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    for (size_t i = 0; rc == MCP_OK && i < n; i++)
        if ((as->resources[i] = mcp__strdup(opts->resources[i])) == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    as->opts.issuer = as->issuer;
    as->opts.resources = (const char *const *)as->resources;
    as->opts.key_file = NULL;
    if (rc == MCP_OK && (as->key_path = mcp__strdup(opts->key_file)) == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (rc == MCP_OK) {
        as->opts.key_file = as->key_path;
        rc = load_key(as, err);
    }
    if (rc == MCP_OK) {
        /* The CSRF key is derived from the signing key, so several instances sharing the key
         * file (behind a load balancer) accept each other's sign-in forms. */
        mcp_buf kb;
        mcp__buf_init(&kb, 32u << 10);
        if (mcp__buf_appends(&kb, "mcp-as-csrf\n") != MCP_OK ||
            mcp__buf_appends(&kb, as->key_pem) != MCP_OK ||
            !mcp__sha256(kb.ptr, kb.len, as->csrf_key))
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        if (kb.ptr != NULL)
            mcp_memzero(kb.ptr, kb.len);
        mcp__buf_cleanup(&kb);
    }
    if (rc == MCP_OK)
        rc = build_metadata(as, err);
    if (rc == MCP_OK) {
        /* /revoke recognizes our own access tokens by verifying them (any audience) */
        mcp_jwt_opts jo;
        mcp_jwt_opts_default(&jo);
        jo.issuer = as->issuer;
        jo.allow_no_audience = true;
        jo.typ = "at+jwt";
        jo.cache_size = 0;
        jo.jwks_refresh_s = 0;
        rc = mcp_jwt_verifier_new(&jo, &as->verifier, err);
        if (rc == MCP_OK)
            rc = mcp_jwt_verifier_add_jwks(as->verifier, as->jwks_json, strlen(as->jwks_json),
                                           err);
    }
    if (rc != MCP_OK) {
        mcp_as_free(as);
        return rc;
    }
    *out = as;
    return MCP_OK;
}

void
mcp_as_free(mcp_as *as)
{
    if (as == NULL)
        return;
    pem_free(as->key_pem);
    EVP_PKEY_free(as->pkey);
    json_decref(as->cur_jwk);
    for (size_t i = 0; i < as->nold; i++) {
        mcp__free(as->old[i].kid);
        json_decref(as->old[i].jwk);
    }
    mcp__free(as->key_path);
    pthread_rwlock_destroy(&as->key_mu);
    mcp_memzero(as->csrf_key, sizeof as->csrf_key);
    for (char **p = as->resources; p != NULL && *p != NULL; p++)
        mcp__free(*p);
    mcp__free(as->resources);
    mcp__free(as->issuer);
    mcp__free(as->kid);
    mcp__free(as->jwks_json);
    mcp__free(as->metadata_json);
    mcp_jwt_verifier_free(as->verifier);
    pthread_mutex_destroy(&as->throttle_mu);
    mcp__as_cimd_cleanup(as);
    pthread_mutex_destroy(&as->cimd_mu);
    mcp__free(as);
}

const char *
mcp_as_issuer(const mcp_as *as)
{
    return as != NULL ? as->issuer : NULL;
}

const char *
mcp_as_jwks_json(const mcp_as *as)
{
    return as != NULL ? as->jwks_json : NULL;
}

void
mcp_as_http_opts(mcp_as *as, mcp_http_opts *ho)
{
    ho->route = mcp_as_route;
    ho->route_ctx = as;
}

/* ---- responses -------------------------------------------------------------------------- */

void
mcp__as_header(mcp_http_route_resp *rs, const char *name, const char *value)
{
    if (rs->nheaders >= MCP_HTTP_ROUTE_MAX_HEADERS)
        return;
    char *v = mcp__strdup(value);
    if (v == NULL)
        return;
    rs->header_name[rs->nheaders] = name;
    rs->header_value[rs->nheaders] = v;
    rs->nheaders++;
}

void
mcp__as_json(mcp_http_route_resp *rs, unsigned status, json_t *doc)
{
    char *b = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (b == NULL) {
        rs->status = 500;
        rs->content_type = "application/json";
        rs->body = mcp__strdup("{\"error\":\"server_error\"}");
        rs->body_len = rs->body != NULL ? strlen(rs->body) : 0;
        return;
    }
    rs->status = status;
    rs->content_type = "application/json";
    rs->body = b;
    rs->body_len = strlen(b);
    /* RFC 6749 section 5.1: token responses are not cached */
    mcp__as_header(rs, "Cache-Control", "no-store");
    mcp__as_header(rs, "Pragma", "no-cache");
}

void
mcp__as_oauth_error(mcp_http_route_resp *rs, unsigned status, const char *code, const char *desc)
{
    mcp__as_json(rs, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc));
}

bool
mcp__as_resource_ok(const mcp_as *as, const char *r)
{
    for (char **p = as->resources; r != NULL && *p != NULL; p++)
        if (strcmp(*p, r) == 0)
            return true;
    return false;
}

mcp_status
mcp__as_mint(mcp_as *as, const char *subject, const char *client_id, const char *resource,
             const char *scope, int64_t now, char **token, char **jti_out, mcp_error *err)
{
    *token = NULL;
    if (jti_out != NULL)
        *jti_out = NULL;
    unsigned char r[16];
    mcp_status rc = mcp_random_bytes(r, sizeof r, err);
    if (rc != MCP_OK)
        return rc;
    char *jti = mcp__b64url_encode(r, sizeof r);
    if (jti == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    /* RFC 9068 section 2.2: iss, exp, aud, sub, client_id, iat, jti; scope when granted */
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", as->issuer, "sub",
                          subject, "aud", resource, "exp",
                          (json_int_t)(now + (int64_t)as->opts.access_ttl_s), "iat",
                          (json_int_t)now, "nbf", (json_int_t)now, "jti", jti, "client_id",
                          client_id);
    if (c != NULL && scope != NULL && scope[0] != '\0' &&
        json_object_set_new(c, "scope", json_string(scope)) != 0) {
        json_decref(c);
        c = NULL;
    }
    char *claims = c != NULL ? json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(c);
    if (claims == NULL) {
        mcp__free(jti);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    mcp__as_key_check(as, now, false);
    pthread_rwlock_rdlock(&as->key_mu);
    rc = mcp__jwt_sign_pkey_typ(as->pkey, claims, as->kid, "at+jwt", token, err);
    pthread_rwlock_unlock(&as->key_mu);
    mcp__free(claims);
    if (rc == MCP_OK && jti_out != NULL)
        *jti_out = jti;
    else
        mcp__free(jti);
    return rc;
}

/* ---- the route -------------------------------------------------------------------------- */

static void
serve_static(mcp_http_route_resp *rs, const mcp_http_route_req *rq, const char *json)
{
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
        mcp__as_oauth_error(rs, 405, "invalid_request", "method not allowed");
        mcp__as_header(rs, "Allow", "GET");
        return;
    }
    rs->status = 200;
    rs->content_type = "application/json";
    rs->body = mcp__strdup(json);
    rs->body_len = rs->body != NULL ? strlen(rs->body) : 0;
    if (rs->body == NULL)
        rs->status = 500;
    mcp__as_header(rs, "Cache-Control", "max-age=300");
}

/* The keys in force: the current one and the retired ones whose tokens may still be alive
 * (a rotation is noticed here too, so /jwks names a new key before its first token). */
static void
serve_jwks(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    int64_t now = mcp__unix_now();
    mcp__as_key_check(as, now, false);
    char *j = mcp__as_jwks_at(as, now);
    if (j == NULL) {
        rs->status = 500;
        return;
    }
    serve_static(rs, rq, j);
    mcp__free(j);
}

void
mcp_as_route(void *ctx, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    mcp_as *as = ctx;
    const char *p = rq->path;
    if (strcmp(p, "/.well-known/oauth-authorization-server") == 0 ||
        strcmp(p, "/.well-known/openid-configuration") == 0)
        serve_static(rs, rq, as->metadata_json);
    else if (strcmp(p, "/jwks") == 0)
        serve_jwks(as, rq, rs);
    else if (strcmp(p, "/authorize") == 0)
        mcp__as_authorize(as, rq, rs);
    else if (strcmp(p, "/token") == 0)
        mcp__as_token(as, rq, rs);
    else if (strcmp(p, "/revoke") == 0)
        mcp__as_revoke(as, rq, rs);
    else if (strcmp(p, "/introspect") == 0)
        mcp__as_introspect(as, rq, rs);
    else if (strcmp(p, "/register") == 0 && as->opts.registration)
        mcp__as_register(as, rq, rs);
    /* anything else: status 0, the transport answers 404 */
}
