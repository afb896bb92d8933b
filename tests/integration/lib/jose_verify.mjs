// Verifies tokens with the jose npm package (an independent JWS implementation), for
// tests/integration/jwt_interop.sh.
//   node jose_verify.mjs LIST ISS AUD
// LIST: lines "ALG<TAB>KEYFILE<TAB>TOKEN<TAB>ok|bad" (KEYFILE: SPKI PEM, or the HMAC secret's
// bytes). Prints one line per token, "ok ALG sub=SUB" or "bad ALG reason", and exits 1 when a
// token's outcome is not the expected one.
import { readFileSync } from 'node:fs';
import { createPublicKey, createSecretKey } from 'node:crypto';
import { jwtVerify } from 'jose';

const [list, issuer, audience] = process.argv.slice(2);
let wrong = 0;
for (const line of readFileSync(list, 'utf8').trim().split('\n')) {
  const [alg, keyFile, token, want] = line.split('\t');
  const bytes = readFileSync(keyFile);
  const key = alg.startsWith('HS') ? createSecretKey(bytes) : createPublicKey(bytes);
  let got;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, key, { issuer, audience,
      algorithms: [alg] });
    got = protectedHeader.alg === alg ? 'ok' : 'bad';
    console.log(`${got} ${alg} sub=${payload.sub}`);
  } catch (e) {
    got = 'bad';
    console.log(`bad ${alg} ${e.code ?? e.message}`);
  }
  if (got !== want) {
    console.log(`FAIL: jose: ${alg} token: want ${want}, got ${got}`);
    wrong++;
  }
}
process.exit(wrong ? 1 : 0);
