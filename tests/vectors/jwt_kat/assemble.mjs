// Part of make.sh (run it, not this): signs the jose tokens, checks every token once with jose,
// and prints tests/vectors/jwt_known_answer.json.
//   node assemble.mjs WORKDIR RFC_JSON OPENSSL_VERSION
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, createSecretKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { SignJWT, compactVerify, jwtVerify, importJWK } from 'jose';

const [dir, rfcPath, opensslVersion] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const joseVersion = require('jose/package.json').version;
const read = (f) => readFileSync(`${dir}/${f}`, 'utf8');
const ISS = 'https://kat.issuer.example';
const AUD = 'https://mcp.example/mcp';
const ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'EdDSA'];
const keyOf = (alg) => ({ HS256: 'hs256', HS384: 'hs384', HS512: 'hs512', ES256: 'p256',
  ES384: 'p384', EdDSA: 'ed25519' })[alg] ?? 'rsa2048';

// keys: public SPKI PEM + public JWK, or the HMAC secret (base64url) + oct JWK
const keys = {};
const priv = {};
const verifyKey = {};
for (const k of ['rsa2048', 'p256', 'p384', 'ed25519']) {
  priv[k] = createPrivateKey(read(`${k}.pem`));
  const pub = createPublicKey(read(`${k}.pub.pem`));
  verifyKey[k] = pub;
  keys[k] = { pem: pub.export({ type: 'spki', format: 'pem' }), jwk: pub.export({ format: 'jwk' }) };
}
for (const n of [256, 384, 512]) {
  const secret = Buffer.from(read(`hs${n}.hex`).trim(), 'hex');
  priv[`hs${n}`] = verifyKey[`hs${n}`] = createSecretKey(secret);
  keys[`hs${n}`] = { secret_b64u: secret.toString('base64url'),
    jwk: { kty: 'oct', k: secret.toString('base64url') } };
}

const cases = [];
const add = (name, source, alg, key, token, extra) =>
  cases.push({ name, source, alg, key, token, issuer: ISS, audience: AUD, leeway: 60,
    json_payload: true, expect: 'MCP_OK', message: null, subject: null, ...extra });

// openssl command-line tokens
for (const line of read('openssl.tsv').trim().split('\n')) {
  const [alg, token] = line.split('\t');
  add(`openssl_${alg.toLowerCase()}`, opensslVersion + ' command line', alg, keyOf(alg), token,
    { subject: `kat-${alg}-openssl` });
}
// jose tokens
for (const alg of ALGS) {
  const token = await new SignJWT({ iss: ISS, aud: AUD, sub: `kat-${alg}-jose`, iat: 1767225600,
    exp: 4102444800 }).setProtectedHeader({ alg, typ: 'JWT' }).sign(priv[keyOf(alg)]);
  add(`jose_${alg.toLowerCase()}`, `jose ${joseVersion} (npm), SignJWT`, alg, keyOf(alg), token,
    { subject: `kat-${alg}-jose` });
}
// every generated token verifies with jose (signature and claims)
for (const c of cases) {
  const { payload } = await jwtVerify(c.token, verifyKey[c.key], { issuer: ISS, audience: AUD,
    algorithms: [c.alg], currentDate: new Date(1767225600 * 1000) });
  if (payload.sub !== c.subject) throw new Error(`${c.name}: sub ${payload.sub}`);
}

// negative vectors: openssl signatures made with another choice than the alg names; jose must
// refuse each (so they are wrong by an independent verifier, not just by ours)
const why = {
  salt0: 'PSS salt length 0, not the hash length', saltmax: 'PSS salt length max, not the hash length',
  mgf1_sha1: 'PSS with MGF1-SHA1, not MGF1 with the same hash', pkcs1: 'PKCS#1 v1.5 padding under a PS alg',
  pss: 'PSS padding under an RS alg', sha256: 'signed over SHA-256, not the hash the alg names',
  der: 'ECDSA signature in DER, not r||s',
  sha384: 'signed over SHA-384, not the hash the alg names',
  sha512_cut: 'HMAC-SHA-512 cut to the tag length: the wrong hash, the right length',
};
for (const line of read('neg.tsv').trim().split('\n')) {
  const [name, alg, key, token] = line.split('\t');
  let accepted = false;
  try {
    await jwtVerify(token, verifyKey[key], { issuer: ISS, audience: AUD, algorithms: [alg],
      currentDate: new Date(1767225600 * 1000) });
    accepted = true;
  } catch (e) { /* refused, as it must be */ }
  if (accepted) throw new Error(`${name}: jose accepts a negative vector`);
  const kind = Object.keys(why).find((k) => name.endsWith(`_${k}`));
  if (kind === undefined) throw new Error(`${name}: no description`);
  add(name, `${opensslVersion} command line, negative: ${why[kind]}`, alg, key, token,
    { expect: 'MCP_ERR_UNAUTHENTICATED', message: 'signature invalid' });
}

// RFC examples: the transcription is checked by verifying each with jose against its JWK
for (const v of JSON.parse(readFileSync(rfcPath, 'utf8')).vectors) {
  const jwk = v.jwk;
  const key = await importJWK(jwk, v.alg);
  await compactVerify(v.token, key, { algorithms: [v.alg] });
  const name = v.name;
  keys[name] = { jwk };
  if (jwk.kty === 'oct') keys[name].secret_b64u = jwk.k;
  else keys[name].pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const c = { name, source: v.source, alg: v.alg, key: name, token: v.token, json_payload: v.json_payload,
    subject: null };
  if (v.json_payload) {
    // {"iss":"joe","exp":1300819380,"http://example.com/is_root":true}: no aud, long expired
    // (the leeway reaches back to 2011), and no sub, which our verifier requires: signature,
    // exp and iss pass, and the last check, sub, refuses it
    Object.assign(c, { issuer: 'joe', audience: null, leeway: 2000000000,
      expect: 'MCP_ERR_UNAUTHENTICATED', message: 'missing sub' });
  } else {
    // not a JSON payload: the signature verifies, then the payload check refuses it
    Object.assign(c, { issuer: null, audience: null, leeway: 60,
      expect: 'MCP_ERR_UNAUTHENTICATED', message: 'malformed token: payload' });
  }
  cases.push(c);
}

process.stdout.write(JSON.stringify({
  description: 'Known-answer JWS vectors from signers that are not ours, for every algorithm the ' +
    'verifier accepts: the RFC 7515 / RFC 7520 / RFC 8037 examples, and tokens made by the OpenSSL ' +
    'command line and by the jose npm package, and negative vectors (neg_*: an OpenSSL signature ' +
    'made with another hash, padding, salt length, MGF1 hash or encoding than the alg names, ' +
    'refused by jose). Made by tests/vectors/jwt_kat/make.sh; read by ' +
    'tests/jwt/test_jwt_kat.c, which verifies each token with the key as PEM (or the HMAC secret) ' +
    'and as a JWKS, expects `expect` / `message` / `subject`, and expects "signature invalid" for ' +
    'the token with one signature bit flipped. issuer/audience null: not checked.',
  generated_by: { openssl: opensslVersion, jose: joseVersion },
  keys, cases }, null, 1) + '\n');
