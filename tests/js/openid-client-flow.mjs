// openid-client (npm, v6, unpatched) as a relying party of a pool's domain: discovery from the
// issuer, the authorization-code flow with PKCE, state and nonce (the user signs in in Chromium,
// driven by playwright-core), the ID token's checks, userinfo, the refresh grant and revocation.
// tests/e2e/browser.rs runs it:
//
//   node tests/js/openid-client-flow.mjs '{"issuer":"http://127.0.0.1:PORT/us-east-1_X",
//     "clientId", "username", "password", "appPort", "chromium"}'
//
// The local server is plain http, so the relying party is told so with openid-client's own
// switch, allowInsecureRequests (a deployment is https, where it is not needed).
//
// Prints one JSON line: {ok, steps, claims?, userinfo?, error?}.

import http from 'node:http';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 60_000;
const input = JSON.parse(process.argv[2]);
const result = { ok: false, steps: [] };
function print() {
	process.stdout.write(`${JSON.stringify(result)}\n`);
}
setTimeout(() => {
	result.error = { name: 'Timeout', message: `no answer within ${TIMEOUT_MS} ms`, step: result.steps.at(-1) };
	print();
	process.exit(2);
}, TIMEOUT_MS).unref();

const CALLBACK = `http://localhost:${input.appPort}/callback`;
const app = http.createServer((_, res) => {
	res.writeHead(200, { 'content-type': 'text/html' });
	res.end('<!DOCTYPE html><html lang="en"><title>app</title><p>app</p></html>');
});
await new Promise((resolve) => app.listen(input.appPort, '127.0.0.1', resolve));

async function run() {
	result.steps.push('discovery');
	const config = await client.discovery(new URL(input.issuer), input.clientId, undefined, client.None(), {
		execute: [client.allowInsecureRequests],
	});
	const verifier = client.randomPKCECodeVerifier();
	const challenge = await client.calculatePKCECodeChallenge(verifier);
	const nonce = client.randomNonce();
	const state = client.randomState();
	const url = client.buildAuthorizationUrl(config, {
		redirect_uri: CALLBACK,
		scope: 'openid email profile',
		code_challenge: challenge,
		code_challenge_method: 'S256',
		nonce,
		state,
	});

	result.steps.push('sign-in in the browser');
	const browser = await chromium.launch({
		executablePath: input.chromium,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
	});
	let callback;
	try {
		const page = await (await browser.newContext()).newPage();
		await page.goto(url.href);
		await page.waitForURL(/\/login\?/);
		await page.getByLabel('Username').fill(input.username);
		await page.getByLabel('Password').fill(input.password);
		await page.locator('form button[type=submit]').first().click();
		await page.waitForURL((u) => u.href.startsWith(CALLBACK), { timeout: 15_000 });
		callback = new URL(page.url());
	} finally {
		await browser.close();
	}

	result.steps.push('code exchange');
	const tokens = await client.authorizationCodeGrant(config, callback, {
		pkceCodeVerifier: verifier,
		expectedNonce: nonce,
		expectedState: state,
		idTokenExpected: true,
	});
	const claims = tokens.claims();
	result.claims = { sub: claims.sub, aud: claims.aud, nonce: claims.nonce, email: claims.email };
	if (claims.nonce !== nonce) throw new Error('nonce');

	result.steps.push('userinfo');
	const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
	result.userinfo = info;

	result.steps.push('refresh');
	const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
	if (!refreshed.access_token || !refreshed.id_token) throw new Error('refresh gave no tokens');

	result.steps.push('revoke');
	await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
	try {
		await client.refreshTokenGrant(config, tokens.refresh_token);
		throw new Error('a revoked refresh token still works');
	} catch (e) {
		if (e.error !== 'invalid_grant') throw e;
	}
	result.ok = true;
}

run()
	.catch((e) => {
		result.error = { name: e.name, message: String(e.message).slice(0, 2000), code: e.code, error: e.error, step: result.steps.at(-1) };
	})
	.finally(() => {
		app.close();
		print();
		process.exit(result.ok ? 0 : 1);
	});
