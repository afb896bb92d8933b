/*
 * libFuzzer target: arbitrary bytes -> mcp_jwt_verify() with an HS256 and an ES256 key
 * configured, plus the unverified decoder and (for inputs that look like JSON) the JWK Set
 * parser. Any crash, sanitizer report or accepted forgery is a bug: the fuzzer does not know
 * the keys, so MCP_OK would mean a signature check was bypassed.
 *
 * Build: CC=clang cmake -S . -B build-jwt-fuzz -DMCP_FUZZ=ON -DMCP_WERROR=OFF
 *        (add CFLAGS=-fsanitize=fuzzer-no-link -DMCP_SANITIZE=ON to instrument the library)
 * Run:   build-jwt-fuzz/bin/fuzz_jwt -max_total_time=20 -max_len=9000
 */
#include <mcp/jwt.h>

#include "jwt/internal.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

static mcp_jwt_verifier *verifier;

static void
init(void)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = "https://issuer.example";
    o.audience = "https://mcp.example/mcp";
    o.cache_size = 64;
    mcp_error err;
    if (mcp_jwt_verifier_new(&o, &verifier, &err) != MCP_OK)
        abort();
    static const char secret[] = "fuzz-secret-fuzz-secret-fuzz-secret-32";
    if (mcp_jwt_verifier_add_hmac(verifier, "hs", "HS256", secret, sizeof secret - 1, &err) !=
        MCP_OK)
        abort();
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    if (k == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, k) != 1)
        abort();
    char *pem;
    long n = BIO_get_mem_data(bio, &pem);
    if (mcp_jwt_verifier_add_pem(verifier, "es", "ES256", pem, (size_t)n, &err) != MCP_OK)
        abort();
    BIO_free(bio);
    EVP_PKEY_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (verifier == NULL)
        init();
    const char *tok = (const char *)data;
    mcp_principal *p = NULL;
    mcp_error err;
    mcp_status rc = mcp_jwt_verify(verifier, tok, size, &p, &err);
    if (rc == MCP_OK)
        abort();                        /* a forgery: the fuzzer cannot know either key */
    if (rc != MCP_ERR_UNAUTHENTICATED && rc != MCP_ERR_TOO_LARGE)
        abort();
    if (p != NULL)
        abort();

    char *h = NULL, *pl = NULL;
    if (mcp_jwt_decode_unverified(tok, size, &h, &pl, &err) == MCP_OK) {
        mcp_free(h);
        mcp_free(pl);
    }
    if (size > 0 && data[0] == '{') {
        mcp__jwt_keyset *set = NULL;
        if (mcp__jwt_jwks_parse(tok, size, true, &set, &err) == MCP_OK)
            mcp__jwt_keyset_unref(set);
    }
    return 0;
}
