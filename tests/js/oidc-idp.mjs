// A real OpenID Connect provider for the federation tests: oidc-provider (npm, OpenID-certified),
// unpatched, on http://127.0.0.1:PORT with its development login and consent pages. Started by
// tests/e2e/federation_oidc.rs, which keeps it running for a test:
//
//   node tests/js/oidc-idp.mjs '{"port":PORT,"clients":[{"client_id":"…","client_secret":"…",
//     "redirect_uris":["http://p.auth.localhost:9229/oauth2/idpresponse"]}]}'
//
// Prints {"ready":true,"issuer":"…"} once it listens. Any login signs in (the development
// pages); an account's claims are what the test last put with
// `PUT /_test/accounts/<login>` (a JSON object), besides `sub` (= the login).
// Clients authenticate at the token endpoint with client_secret_post, as Cognito does; PKCE is
// required, so the relying party's PKCE is exercised.

import Provider from 'oidc-provider';

const input = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${input.port}`;
const accounts = new Map();

const provider = new Provider(issuer, {
	clients: input.clients.map((c) => ({
		grant_types: ['authorization_code'],
		response_types: ['code'],
		token_endpoint_auth_method: 'client_secret_post',
		...c,
	})),
	claims: {
		openid: ['sub'],
		email: ['email', 'email_verified'],
		profile: ['name', 'given_name', 'family_name', 'locale'],
	},
	async findAccount(_ctx, id) {
		return { accountId: id, claims: async () => ({ sub: id, ...(accounts.get(id) ?? {}) }) };
	},
	features: { devInteractions: { enabled: true } },
	pkce: { required: () => true, methods: ['S256'] },
	cookies: { keys: ['federation-tests-only'] },
});

// The test's own endpoint: set an account's claims.
provider.use(async (ctx, next) => {
	const prefix = '/_test/accounts/';
	if (ctx.method === 'PUT' && ctx.path.startsWith(prefix)) {
		const chunks = [];
		for await (const chunk of ctx.req) chunks.push(chunk);
		accounts.set(decodeURIComponent(ctx.path.slice(prefix.length)), JSON.parse(Buffer.concat(chunks).toString()));
		ctx.status = 204;
		return;
	}
	await next();
});

provider.listen(input.port, '127.0.0.1', () => {
	process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
});
