// The hosted pages in a real browser: Debian's Chromium, driven by playwright-core (with
// executablePath; Playwright's own browser download is not used). tests/e2e/browser.rs runs it
// with two pools it made on a local server:
//
//   node tests/js/browser-flows.mjs '{"server":"http://127.0.0.1:PORT","port":PORT,
//     "email":{prefix, clientId}, "mfa":{prefix, clientId, username, password},
//     "invited":{username, temporaryPassword}, "chromium":"/usr/bin/chromium"}'
//
// Every page is reached at its host form, http://<prefix>.auth.localhost:PORT (Chromium
// resolves *.localhost to loopback), and checked with axe-core (no serious or critical
// violation). The app's callback (https://app.example.com/…) is answered by the browser itself.
//
// Flows: sign up → confirm with the code from the outbox (GET /_dev/messages) → sign in →
// redirected with a code → tokens (PKCE); single sign-on; sign-out; forgot password → reset →
// sign in; NEW_PASSWORD_REQUIRED; authenticator (TOTP) setup from the page's key, then a TOTP
// sign-in in a new browser.
//
// Prints one JSON line: {ok, pages: [{page, violations}], steps: [...], error?}.

import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const TIMEOUT_MS = 90_000;
const input = JSON.parse(process.argv[2]);
// The app: a page on localhost (http://localhost is the one plain-http callback Cognito takes).
const CALLBACK = `http://localhost:${input.appPort}/callback`;
const SIGNED_OUT = `http://localhost:${input.appPort}/bye`;
const app = http.createServer((_, res) => {
	res.writeHead(200, { 'content-type': 'text/html' });
	res.end('<!DOCTYPE html><html lang="en"><title>app</title><p>app</p></html>');
});
await new Promise((resolve) => app.listen(input.appPort, '127.0.0.1', resolve));
const result = { ok: false, pages: [], steps: [] };
function print() {
	process.stdout.write(`${JSON.stringify(result)}\n`);
}
setTimeout(() => {
	result.error = { name: 'Timeout', message: `no answer within ${TIMEOUT_MS} ms`, step: result.steps.at(-1) };
	print();
	process.exit(2);
}, TIMEOUT_MS).unref();

const domain = (prefix) => `http://${prefix}.auth.localhost:${input.port}`;

function pkce() {
	const verifier = crypto.randomBytes(32).toString('base64url');
	const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
	return { verifier, challenge };
}

function authorizeUrl(pool, pk, extra = {}) {
	const q = new URLSearchParams({
		response_type: 'code',
		client_id: pool.clientId,
		redirect_uri: CALLBACK,
		scope: 'openid email profile',
		state: 'browser-state',
		code_challenge: pk.challenge,
		code_challenge_method: 'S256',
		...extra,
	});
	return `${domain(pool.prefix)}/oauth2/authorize?${q}`;
}

// RFC 6238 with SHA-1, 6 digits, 30 s: what authenticator apps compute from the page's key.
function totp(secret, at = Date.now()) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = '';
	for (const c of secret.replace(/=+$/, '').toUpperCase()) {
		bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
	}
	const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
	const h = crypto.createHmac('sha1', key).update(counter).digest();
	const o = h[h.length - 1] & 0xf;
	const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
	return String(n % 1_000_000).padStart(6, '0');
}

async function latestCode(destination) {
	const messages = await (await fetch(`${input.server}/_dev/messages`)).json();
	const mine = messages.filter((m) => m.destination === destination);
	if (mine.length === 0) throw new Error(`no message to ${destination}`);
	return mine.at(-1).code;
}

async function axeCheck(page, name) {
	await page.addScriptTag({ path: AXE });
	const found = await page.evaluate(async () => (await globalThis.axe.run()).violations);
	const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
	result.pages.push({
		page: name,
		violations: bad.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html).slice(0, 3) })),
		minor: found.filter((v) => !bad.includes(v)).map((v) => v.id),
	});
}

async function newContext(browser) {
	// bypassCSP: axe-core is injected as a script; the pages themselves allow none.
	return browser.newContext({ bypassCSP: true });
}

async function submit(page) {
	await Promise.all([page.waitForLoadState('load'), page.locator('form button[type=submit]').first().click()]);
}

/// Waits for the app's callback and returns its query.
async function callbackQuery(page) {
	await page.waitForURL((u) => u.href.startsWith(CALLBACK), { timeout: 15_000 });
	return new URL(page.url()).searchParams;
}

async function exchange(pool, code, verifier) {
	const body = new URLSearchParams({
		grant_type: 'authorization_code',
		client_id: pool.clientId,
		code,
		redirect_uri: CALLBACK,
		code_verifier: verifier,
	});
	// The token endpoint by the path form: Node cannot resolve *.localhost.
	const r = await fetch(`${input.server}/_auth/${pool.prefix}/oauth2/token`, {
		method: 'POST',
		headers: { 'content-type': 'application/x-www-form-urlencoded' },
		body,
	});
	const tokens = await r.json();
	if (r.status !== 200 || !tokens.id_token) throw new Error(`token exchange: ${r.status} ${JSON.stringify(tokens)}`);
	return tokens;
}

async function run() {
	const browser = await chromium.launch({
		executablePath: input.chromium,
		headless: true,
		args: [
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			// *.localhost is loopback (RFC 6761) and Chromium resolves it so, but after a page of
			// another site it asked the system resolver, which does not know it: say it once.
			'--host-resolver-rules=MAP *.localhost 127.0.0.1',
		],
	});
	try {
		const pool = input.email;
		const email = `browser${Date.now()}@example.com`;
		const password = 'Browser-Pass-123';

		// Sign up → confirm → sign in → code → tokens.
		result.steps.push('sign-up');
		let context = await newContext(browser);
		let page = await context.newPage();
		let pk = pkce();
		await page.goto(authorizeUrl(pool, pk));
		await page.waitForURL(/\/login\?/);
		await axeCheck(page, 'login');
		await Promise.all([page.waitForURL(/\/signup\?/), page.getByRole('link', { name: /Sign up/ }).click()]);
		await axeCheck(page, 'signup');
		await page.getByLabel('Email').fill(email);
		await page.getByLabel('Password').fill(password);
		await submit(page);
		await page.getByRole('heading', { name: 'Confirm your account' }).waitFor();
		await axeCheck(page, 'confirm');
		await page.getByLabel('Code', { exact: true }).fill(await latestCode(email));
		await submit(page);
		await page.getByText('Your account is confirmed').waitFor();
		result.steps.push('sign-in after confirming');
		await page.getByLabel('Username').fill(email);
		await page.getByLabel('Password').fill(password);
		await page.locator('form button[type=submit]').first().click();
		let query = await callbackQuery(page);
		if (query.get('state') !== 'browser-state') throw new Error('state not echoed');
		let tokens = await exchange(pool, query.get('code'), pk.verifier);
		const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
		if (claims.email !== email) throw new Error(`ID token email ${claims.email}`);

		// Single sign-on: the next authorize skips the sign-in page.
		result.steps.push('single sign-on');
		pk = pkce();
		await page.goto(authorizeUrl(pool, pk));
		query = await callbackQuery(page);
		await exchange(pool, query.get('code'), pk.verifier);

		// Sign-out ends it.
		result.steps.push('sign-out');
		await page.goto(`${domain(pool.prefix)}/logout?${new URLSearchParams({ client_id: pool.clientId, logout_uri: SIGNED_OUT })}`);
		await page.waitForURL((u) => u.href.startsWith(SIGNED_OUT));
		await page.goto(authorizeUrl(pool, pkce()));
		await page.waitForURL(/\/login\?/);

		// Forgot password → reset → sign in.
		result.steps.push('forgot password');
		await Promise.all([page.waitForURL(/\/forgotPassword\?/), page.getByRole('link', { name: /Forgot your password/ }).click()]);
		await axeCheck(page, 'forgotPassword');
		await page.getByLabel('Email').fill(email);
		await submit(page);
		await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
		await axeCheck(page, 'confirmForgotPassword');
		await page.getByLabel('Code', { exact: true }).fill(await latestCode(email));
		await page.getByLabel('New password').fill('Browser-Pass-456');
		await submit(page);
		await page.getByText('Your password has been changed').waitFor();
		await page.getByLabel('Username').fill(email);
		await page.getByLabel('Password').fill('Browser-Pass-456');
		await page.locator('form button[type=submit]').first().click();
		await callbackQuery(page);
		await context.close();

		// NEW_PASSWORD_REQUIRED.
		result.steps.push('new password required');
		context = await newContext(browser);
		page = await context.newPage();
		await page.goto(authorizeUrl(pool, pkce()));
		await page.waitForURL(/\/login\?/);
		await page.getByLabel('Username').fill(input.invited.username);
		await page.getByLabel('Password').fill(input.invited.temporaryPassword);
		await submit(page);
		await page.getByRole('heading', { name: 'Change password' }).waitFor();
		await axeCheck(page, 'newPassword');
		await page.getByLabel('New password').fill('Invited-Pass-789');
		await page.locator('form button[type=submit]').first().click();
		await callbackQuery(page);
		await context.close();

		// Authenticator setup (MFA ON), then a TOTP sign-in in a new browser.
		result.steps.push('authenticator setup');
		const mfa = input.mfa;
		context = await newContext(browser);
		page = await context.newPage();
		pk = pkce();
		await page.goto(authorizeUrl(mfa, pk));
		await page.waitForURL(/\/login\?/);
		await page.getByLabel('Username').fill(mfa.username);
		await page.getByLabel('Password').fill(mfa.password);
		await submit(page);
		await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();
		await axeCheck(page, 'mfaSetup');
		if ((await page.locator('svg[role=img]').count()) !== 1) throw new Error('no QR code');
		const secret = (await page.locator('p code').textContent()).trim();
		const now = Date.now();
		await page.getByLabel('Code', { exact: true }).fill(totp(secret, now));
		await page.locator('form button[type=submit]').first().click();
		query = await callbackQuery(page);
		await exchange(mfa, query.get('code'), pk.verifier);
		await context.close();
		result.steps.push('TOTP sign-in');
		context = await newContext(browser);
		page = await context.newPage();
		await page.goto(authorizeUrl(mfa, pkce()));
		await page.waitForURL(/\/login\?/);
		await page.getByLabel('Username').fill(mfa.username);
		await page.getByLabel('Password').fill(mfa.password);
		await submit(page);
		await page.getByRole('heading', { name: 'Verify your identity' }).waitFor();
		await axeCheck(page, 'mfa');
		// The next 30-second step: the setup's code cannot be used twice.
		await page.getByLabel('Code', { exact: true }).fill(totp(secret, now + 30_000));
		await page.locator('form button[type=submit]').first().click();
		await callbackQuery(page);
		await context.close();

		result.ok = result.pages.every((p) => p.violations.length === 0);
		if (!result.ok) result.error = { name: 'Accessibility', message: 'serious or critical axe violations' };
	} finally {
		await browser.close();
		app.close();
	}
}

run()
	.catch((e) => {
		result.error = { name: e.name, message: String(e.message).slice(0, 2000), step: result.steps.at(-1) };
	})
	.finally(() => {
		print();
		process.exit(result.ok ? 0 : 1);
	});
