// The official TypeScript SDK v2 client (@modelcontextprotocol/client, tests/package.json) against
// a libmcp server: node ts_sdk_v2_client.mjs URL TOKEN MODE (MODE legacy | auto | pin; TOKEN
// "" = none). Prints one JSON line: negotiated version, era, tools/list names, an allowed call,
// a forbidden call (the error class and scope), and a connect without a token.
import { Client, StreamableHTTPClientTransport, InsufficientScopeError } from '@modelcontextprotocol/client';

const [url, token, mode] = process.argv.slice(2);
const negotiation = { mode: mode === 'pin' ? { pin: '2026-07-28' } : mode };
const out = {};
const errName = (e) => (e instanceof InsufficientScopeError
  ? `InsufficientScopeError:${e.requiredScope}` : `${e?.constructor?.name}:${e?.message}`);

const client = new Client({ name: 'libmcp-interop', version: '1.0.0' },
  { versionNegotiation: negotiation });
const transport = new StreamableHTTPClientTransport(new URL(url),
  { authProvider: { token: async () => token }, onInsufficientScope: 'throw' });
try {
  await client.connect(transport);
  out.version = client.getNegotiatedProtocolVersion();
  out.era = client.getProtocolEra();
  out.tools = (await client.listTools()).tools.map((t) => t.name).sort().join(',');
  const r = await client.callTool({ name: 'get_product', arguments: { id: 1 } });
  out.call = r.isError ? 'tool-error' : (r.structuredContent?.id === 1 ? 'ok' : 'unexpected');
  try {
    await client.callTool({ name: 'delete_product', arguments: { id: 1 } });
    out.forbidden = 'allowed';
  } catch (e) {
    out.forbidden = errName(e);
  }
  await client.close();
} catch (e) {
  out.error = errName(e);
}

const anon = new Client({ name: 'libmcp-interop', version: '1.0.0' },
  { versionNegotiation: negotiation });
try {
  await anon.connect(new StreamableHTTPClientTransport(new URL(url)));
  out.noToken = 'connected';
  await anon.close();
} catch (e) {
  out.noToken = `${e?.constructor?.name}:${e?.status}`;
}
console.log(JSON.stringify(out));
