// The official TypeScript SDK v2 client's authorization-code flow against libmcp's embedded
// authorization server, with the browser step scripted:
//   node ts_sdk_as_code.mjs URL CLIENT_ID USER   (the password on standard input)
// An OAuthClientProvider for a pre-registered public client: the SDK discovers the AS through
// the PRM after a 401, builds the authorization URL (PKCE S256, resource, state) and hands it to
// redirectToAuthorization; the test then loads our /authorize page (keeping its CSRF cookie),
// posts the form back with every hidden field (the CSRF token among them) and the credentials
// as a real HTTP POST, reads the redirect, and gives its query (code, state, iss) to the
// transport's finishAuth, which exchanges the code. A new connection then calls list_products.
// Prints one JSON line: {redirected, csrf, forgedForm, call, products, refresh} or {error}.
import { readFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

const [url, clientId, user] = process.argv.slice(2);
const password = readFileSync(0, 'utf8').split('\n')[0];
const redirectUrl = 'http://127.0.0.1:9/callback';   // loopback: any port matches (RFC 8252)
const out = {};
let tokens, verifier, authUrl;
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return { redirect_uris: [redirectUrl], client_name: 'ts-sdk-interop', token_endpoint_auth_method: 'none',
             grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
  },
  clientInformation() { return { client_id: clientId }; },
  tokens() { return tokens; },
  saveTokens(t) { tokens = t; },
  redirectToAuthorization(u) { authUrl = new URL(u); },
  saveCodeVerifier(v) { verifier = v; },
  codeVerifier() { return verifier; },
};

const unescape = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
  .replace(/&gt;/g, '>').replace(/&amp;/g, '&');

// Load the sign-in page and post it back; returns the POST's response.
async function signIn(u, pw, tamper) {
  const page = await fetch(u, { redirect: 'manual' });
  const cookie = (page.headers.get('set-cookie') || '').split(';')[0];
  const html = await page.text();
  const fields = [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)]
    .map((m) => [m[1], unescape(m[2])]);
  out.csrf = fields.some(([n]) => n === 'csrf_token') && cookie.startsWith('mcp_as_csrf=');
  const form = new URLSearchParams(fields);
  if (tamper) form.set('csrf_token', 'A'.repeat(43));
  form.append('username', user);
  form.append('password', pw);
  form.append('action', 'allow');
  return fetch(new URL('/authorize', u), {
    method: 'POST', body: form.toString(), redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
  });
}

try {
  const client = new Client({ name: 'libmcp-as-code', version: '1.0.0' });
  const first = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  try {
    await client.connect(first);
    throw new Error('connected without a token');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  out.redirected = authUrl !== undefined && authUrl.pathname === '/authorize' &&
    authUrl.searchParams.get('code_challenge_method') === 'S256';
  // a forged form (the CSRF token replaced) gets no code
  const forged = await signIn(authUrl, password, true);
  out.forgedForm = forged.status;
  const res = await signIn(authUrl, password, false);
  const loc = res.headers.get('location');
  if (res.status !== 303 || !loc) throw new Error(`sign-in answered ${res.status}`);
  const cb = new URL(loc);
  await first.finishAuth(cb.searchParams);   // checks state's iss, exchanges the code (PKCE)
  const client2 = new Client({ name: 'libmcp-as-code', version: '1.0.0' });
  await client2.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  const r = await client2.callTool({ name: 'list_products', arguments: {} });
  out.call = r.isError ? 'tool-error' : 'ok';
  out.products = Array.isArray(r.structuredContent?.products);
  out.refresh = typeof tokens?.refresh_token === 'string';
  await client2.close();
} catch (e) {
  out.error = `${e?.constructor?.name}:${e?.message}`;
}
console.log(JSON.stringify(out));
