// The OpenID provider the panel's tests sign in through: node's certified `oidc-provider`,
// with a plain login page that checks the test directory's people and passwords.
//
//   node provider.js settings.json
//
// settings.json: { port, issuer, alg, claimsInIdToken, pkceRequired, client, users }
// (see tests/oidc_server.py). Prints "ready" once it listens. Each start makes a new signing
// key, so restarting on the same port is a key rotation. GET /_test/mischief?mode=… makes the
// token endpoint hand out a bad ID token (the tests' refusal cases), signed with the real key.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = new URL(settings.issuer);
const prefix = issuer.pathname.replace(/\/$/, '');
const users = settings.users; // login -> { password, sub, name, email }
const bySub = Object.fromEntries(Object.entries(users).map(([login, u]) => [u.sub, { login, ...u }]));

const { privateKey } = await jose.generateKeyPair(settings.alg, { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: randomUUID(), alg: settings.alg, use: 'sig' };

let mischief = '';

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${escape(title)}</title><meta name="viewport" content="width=device-width"></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;

const provider = new Provider(settings.issuer, {
  clients: [settings.client],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['test-cookie-key'] },
  conformIdTokenClaims: !settings.claimsInIdToken,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  pkce: { methods: ['S256'], required: () => Boolean(settings.pkceRequired) },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out of the provider?', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out of the provider', '<p>You are signed out.</p>');
      },
    },
  },
  enabledJWA: { idTokenSigningAlgValues: [settings.alg] },
  interactions: { url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = bySub[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: user.login,
          name: user.name,
          email: user.email,
          email_verified: true,
        };
      },
    };
  },
  // The panel is a first-party client: no consent page, the grant covers what it asks.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await ctx.oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Provider error', `<pre>${escape(JSON.stringify(out))}</pre>`);
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600 },
});

// The refusal cases: the token endpoint answers with an ID token the panel must refuse.
async function resign(token, change) {
  const payload = { ...jose.decodeJwt(token), ...change };
  return new jose.SignJWT(payload)
    .setProtectedHeader({ alg: settings.alg, kid: signingKey.kid, typ: 'JWT' })
    .sign(privateKey);
}

async function spoil(token) {
  const now = Math.floor(Date.now() / 1000);
  const [header, body, signature] = token.split('.');
  switch (mischief) {
    case 'tamper': {
      const claims = JSON.parse(Buffer.from(body, 'base64url'));
      claims.sub = 'someone-else';
      claims.preferred_username = settings.tamperLogin || 'staffnames';
      return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    }
    case 'expired':
      return resign(token, { iat: now - 7200, exp: now - 3600 });
    case 'audience':
      return resign(token, { aud: 'another-service' });
    case 'wrong-issuer':
      return resign(token, { iss: 'http://127.0.0.1:1/elsewhere' });
    case 'stale-auth-time':
      return resign(token, { auth_time: now - 3600 });
    case 'none': {
      const claims = jose.decodeJwt(token);
      const unsigned = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      return `${unsigned}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    }
    case 'hs256':
      // The classic confusion: an HMAC "signature" made with the client's own secret.
      return new jose.SignJWT(jose.decodeJwt(token))
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(settings.client.client_secret || 'secret'));
    default:
      return token;
  }
}

provider.use(async (ctx, next) => {
  await next();
  if (mischief && ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await spoil(ctx.body.id_token) };
  }
});

const callback = provider.callback();

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginPage(uid, error = '') {
  return page('Sign in at the test provider', `${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="${prefix}/interaction/${uid}/login">
<p><label for="login">Login</label> <input id="login" name="login" autocomplete="username" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>`);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') {
    const grant = new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const user = users[form.get('login')];
    if (!user || user.password !== form.get('password')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(loginPage(uid, 'Wrong login or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  return res.end(loginPage(uid));
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, settings.issuer);
    if (url.pathname === '/_test/mischief') {
      mischief = url.searchParams.get('mode') || '';
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(`mischief=${mischief}`);
    }
    const match = url.pathname.match(new RegExp(`^${prefix}/interaction/([^/]+)(?:/(login))?$`));
    if (match) return await interaction(req, res, match[1], match[2]);
    if (prefix && (url.pathname === prefix || url.pathname.startsWith(`${prefix}/`))) {
      req.originalUrl = req.url;
      req.url = req.url.slice(prefix.length) || '/';
      return callback(req, res);
    }
    if (!prefix) return callback(req, res);
    res.writeHead(404);
    return res.end();
  } catch (error) {
    console.error(error);
    res.writeHead(500);
    return res.end(String(error));
  }
});

server.listen(settings.port, '127.0.0.1', () => {
  console.log('ready');
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
