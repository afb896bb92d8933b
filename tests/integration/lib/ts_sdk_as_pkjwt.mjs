// The official TypeScript SDK v2 client's PrivateKeyJwtProvider (private_key_jwt, RFC 7523)
// against libmcp's embedded authorization server.
//   node ts_sdk_as_pkjwt.mjs keygen DIR        writes DIR/client.jwk (public) and DIR/client.pem
//   node ts_sdk_as_pkjwt.mjs run URL ISSUER CLIENT_ID DIR
// run: the SDK discovers the AS through the PRM, signs a client assertion (ES256) with the
// private key, gets a client_credentials token and calls list_products. Prints one JSON line:
// {call, products} or {error}.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport, PrivateKeyJwtProvider } from '@modelcontextprotocol/client';

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'keygen') {
  const [dir] = rest;
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(`${dir}/client.jwk`, JSON.stringify({ ...publicKey.export({ format: 'jwk' }), kid: 'sdk-1', alg: 'ES256' }));
  writeFileSync(`${dir}/client.pem`, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  process.exit(0);
}
const [url, issuer, clientId, dir] = rest;
const out = {};
try {
  const provider = new PrivateKeyJwtProvider({
    clientId, privateKey: readFileSync(`${dir}/client.pem`, 'utf8'), algorithm: 'ES256',
    expectedIssuer: issuer,
  });
  const client = new Client({ name: 'libmcp-as-pkjwt', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  const r = await client.callTool({ name: 'list_products', arguments: {} });
  out.call = r.isError ? 'tool-error' : 'ok';
  out.products = Array.isArray(r.structuredContent?.products);
  await client.close();
} catch (e) {
  out.error = `${e?.constructor?.name}:${e?.message}`;
}
console.log(JSON.stringify(out));
