/*
 * src/jwt: what other folders use of the JWS code beyond the public <mcp/jwt.h> (STYLE.md
 * section 8). Today that is the ECDSA signature converter, which the client's private_key_jwt
 * signing (src/client/jwt_sign.c) shares with the verifier and mcp_jwt_sign().
 */
#ifndef MCP_SRC_JWT_JWT_H
#define MCP_SRC_JWT_JWT_H

#include <mcp/jwt.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * ECDSA signatures come in two encodings: DER (an ECDSA-Sig-Value, what OpenSSL EVP produces
 * and expects) and JOSE (r||s, two big-endian integers of exactly coord bytes each, RFC 7518
 * section 3.4; coord = 32 for P-256, 48 for P-384). The conversion goes through OpenSSL's
 * ECDSA_SIG, never hand-written DER. Thread safe; no state.
 */

/* DER -> JOSE. out has room for 2 * coord bytes. false for malformed DER or an integer that
 * does not fit coord bytes (out is then undefined). */
bool mcp__jwt_ecdsa_der_to_jose(const unsigned char *der, size_t derlen, size_t coord,
                                unsigned char *out);

/* JOSE -> DER. jose holds 2 * coord bytes (the caller checks the length first). Returns the
 * DER bytes (free with OPENSSL_free) and their length in *derlen, or NULL on failure. */
unsigned char *mcp__jwt_ecdsa_jose_to_der(const unsigned char *jose, size_t coord,
                                          size_t *derlen);

/* mcp_jwt_sign() with the header `typ` given (NULL = "JWT"): the embedded authorization
 * server signs its access tokens as "at+jwt" (RFC 9068 section 2.1). */
mcp_status mcp__jwt_sign_typ(const char *alg, const void *key, size_t key_len,
                             const char *claims_json, const char *kid, const char *typ,
                             char **token_out, mcp_error *err);

/* The same with a private key parsed once by the caller (the embedded authorization server
 * keeps its signing key as an EVP_PKEY: parsing the PEM costs more than the signature). The
 * algorithm is the one the key implies (EC P-256: ES256). pkey is only read: several threads
 * may sign with it at once. */
struct evp_pkey_st;
mcp_status mcp__jwt_sign_pkey_typ(struct evp_pkey_st *pkey, const char *claims_json,
                                  const char *kid, const char *typ, char **token_out,
                                  mcp_error *err);
/* A PEM private key parsed (EVP_PKEY_free), or NULL. */
struct evp_pkey_st *mcp__jwt_pem_private_key(const char *pem, size_t len);

#endif
