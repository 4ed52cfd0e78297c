// An OpenID Certified authorization server (panva/oidc-provider) on loopback, for the
// interop tests. Usage: node oidc_server.mjs ACCESS_TOKEN_TTL_SECONDS [EXACT_REDIRECT_URI]
// With EXACT_REDIRECT_URI, a second client `sigilforge-web` (a web client: its redirect
// URI matched exactly, port included) is registered too.
// Prints the issuer URL on stdout once it listens on 127.0.0.1 (a random port).
//
// The login and consent pages are replaced by a headless "user", alice, who consents to
// whatever is asked: the interop tests exercise the protocol, not a login UI.
import http from 'node:http';
import Provider from 'oidc-provider';

const ttl = Number(process.argv[2] || '3600');
const exactRedirect = process.argv[3];

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const form = (id, action, fields) => `<form id="${id}" method="post" action="${action}">${
  Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}"/>`).join('')
}</form>`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'sigilforge',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
  }].concat(exactRedirect ? [{
    client_id: 'sigilforge-web',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    redirect_uris: [exactRedirect],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }] : []),
  scopes: ['openid', 'offline_access', 'profile'],
  features: {
    devInteractions: { enabled: false },
    deviceFlow: {
      enabled: true,
      userCodeInputSource: async (ctx, formHtml) => { ctx.body = `<html><body>${formHtml}</body></html>`; },
      userCodeConfirmSource: async (ctx, formHtml) => { ctx.body = `<html><body>${formHtml}</body></html>`; },
      successSource: async (ctx) => { ctx.body = '<html><body>device signed in</body></html>'; },
    },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  ttl: {
    AccessToken: ttl,
    AuthorizationCode: 60,
    DeviceCode: 120,
    Grant: 3600,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 86400,
    Session: 3600,
  },
  // A refresh token for every code grant: sigilforge asks for offline_access (it is in
  // scopes_supported), and this keeps the test independent of the consent prompt rules.
  issueRefreshToken: async () => true,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) {
    await next();
    return;
  }
  // The headless user: alice logs in and grants everything the client asked for.
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { params, prompt } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: 'alice', clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  if (prompt.details.missingResourceScopes) {
    for (const [indicator, scope] of Object.entries(prompt.details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scope.join(' '));
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, {
    login: { accountId: 'alice' },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
});

server.on('request', provider.callback());
console.log(issuer);
process.on('SIGTERM', () => process.exit(0));
