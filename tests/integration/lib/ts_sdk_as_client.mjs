// The official TypeScript SDK v2 client's ClientCredentialsProvider against libmcp's embedded
// authorization server: node ts_sdk_as_client.mjs URL ISSUER CLIENT_ID SECRET. The SDK finds
// the AS through the server's PRM (after a 401), gets a client_credentials token and calls
// list_products. Prints one JSON line: {call, products} or {error}.
import { Client, StreamableHTTPClientTransport, ClientCredentialsProvider } from '@modelcontextprotocol/client';

const [url, issuer, clientId, clientSecret] = process.argv.slice(2);
const out = {};
try {
  const provider = new ClientCredentialsProvider({ clientId, clientSecret, expectedIssuer: issuer });
  const client = new Client({ name: 'libmcp-as-interop', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  const r = await client.callTool({ name: 'list_products', arguments: {} });
  out.call = r.isError ? 'tool-error' : 'ok';
  out.products = Array.isArray(r.structuredContent?.products);
  out.tokenType = (await provider.tokens())?.token_type ?? null;
  await client.close();
} catch (e) {
  out.error = `${e?.constructor?.name}:${e?.message}`;
}
console.log(JSON.stringify(out));
