// Amplify v6's signInWithRedirect in a real browser (Debian's Chromium through playwright-core)
// against `tessera serve --tls`: Amplify builds https://{domain}/oauth2/authorize itself, so the
// auth domain is reached over HTTPS, with the server's generated certificate. Chromium trusts
// exactly that certificate (its public key pinned with --ignore-certificate-errors-spki-list),
// nothing else. tests/e2e/browser.rs runs it:
//
//   node tests/js/amplify-redirect.mjs '{"server":"http://127.0.0.1:PORT","port":PORT,
//     "prefix":"p","userPoolId":"…","clientId":"…","username":"…","password":"…",
//     "certFile":"…/tls/localhost.pem","appPort":N,"chromium":"/usr/bin/chromium"}'
//
// The app (tests/js/amplify-redirect-app.js) is bundled with esbuild and served at
// http://localhost:APP/. Steps: signInWithRedirect → the hosted sign-in page → back with a code
// that Amplify exchanges at /oauth2/token (a cross-origin fetch) → getCurrentUser,
// fetchAuthSession, fetchUserAttributes (the JSON API with the access token) → signOut (Amplify
// revokes the refresh token with the RevokeToken operation, then /logout ends the hosted
// session) → signed out → signInWithRedirect again shows the sign-in page (no session left).
//
// Prints one JSON line: {ok, state, refreshToken, requests: [{url, status}], steps, error?}.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 90_000;
const input = JSON.parse(process.argv[2]);
const here = path.dirname(fileURLToPath(import.meta.url));
const result = { ok: false, steps: [], requests: [] };
function print() {
	process.stdout.write(`${JSON.stringify(result)}\n`);
}
setTimeout(() => {
	result.error = { name: 'Timeout', message: `no answer within ${TIMEOUT_MS} ms`, step: result.steps.at(-1) };
	print();
	process.exit(2);
}, TIMEOUT_MS).unref();

const APP_URL = `http://localhost:${input.appPort}/`;
const DOMAIN = `${input.prefix}.auth.localhost:${input.port}`;

const bundle = await esbuild.build({
	entryPoints: [path.join(here, 'amplify-redirect-app.js')],
	bundle: true,
	write: false,
	format: 'esm',
	platform: 'browser',
	target: 'chrome120',
	minify: true,
	logLevel: 'silent',
});
const settings = {
	userPoolId: input.userPoolId,
	clientId: input.clientId,
	userPoolEndpoint: input.server,
	domain: DOMAIN,
	appUrl: APP_URL,
};
const page = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>app</title>
<script>window.TESSERA = ${JSON.stringify(settings)};</script>
<script type="module" src="/app.js"></script></head><body><p>app</p></body></html>`;
const app = http.createServer((req, res) => {
	if (req.url === '/app.js') {
		res.writeHead(200, { 'content-type': 'text/javascript' });
		res.end(bundle.outputFiles[0].contents);
	} else {
		res.writeHead(200, { 'content-type': 'text/html' });
		res.end(page);
	}
});
await new Promise((resolve) => app.listen(input.appPort, '127.0.0.1', resolve));

// Chromium's pin: base64 SHA-256 of the certificate's SubjectPublicKeyInfo.
const cert = new crypto.X509Certificate(fs.readFileSync(input.certFile));
const spki = crypto
	.createHash('sha256')
	.update(cert.publicKey.export({ type: 'spki', format: 'der' }))
	.digest('base64');

async function appReady(p) {
	await p.waitForFunction(() => window.ready === true);
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
			'--host-resolver-rules=MAP *.localhost 127.0.0.1',
			`--ignore-certificate-errors-spki-list=${spki}`,
		],
	});
	try {
		const context = await browser.newContext();
		const p = await context.newPage();
		// The auth domain's answers, and the JSON API calls by operation.
		const server = new URL(input.server).host;
		p.on('response', (r) => {
			const url = new URL(r.url());
			const method = r.request().method();
			if (url.host === DOMAIN) {
				result.requests.push({ method, url: `${url.protocol}//${url.host}${url.pathname}`, status: r.status() });
			} else if (url.host === server && method === 'POST') {
				const target = r.request().headers()['x-amz-target'] ?? '';
				result.requests.push({ method, operation: target.split('.').pop(), status: r.status() });
			}
		});
		result.console = [];
		p.on('console', (m) => {
			if (m.type() === 'error' || m.type() === 'warning') result.console.push(m.text());
		});
		const authorizeQueries = [];
		p.on('request', (r) => {
			const url = new URL(r.url());
			if (url.host === DOMAIN && url.pathname === '/oauth2/authorize') {
				authorizeQueries.push(Object.fromEntries(url.searchParams));
			}
		});

		result.steps.push('signInWithRedirect');
		await p.goto(APP_URL);
		await appReady(p);
		await Promise.all([p.waitForURL(/\/login\?/), p.evaluate(() => void window.app.signIn())]);
		if (!p.url().startsWith(`https://${DOMAIN}/login?`)) throw new Error(`not the hosted sign-in page: ${p.url()}`);
		result.authorize = authorizeQueries.at(-1);

		result.steps.push('hosted sign-in');
		await p.getByLabel('Username').fill(input.username);
		await p.getByLabel('Password').fill(input.password);
		await Promise.all([p.waitForURL((u) => u.href.startsWith(APP_URL)), p.locator('form button[type=submit]').first().click()]);
		await appReady(p);

		result.steps.push('code exchange');
		await p.waitForFunction(() => window.events.some((e) => e.event.startsWith('signInWithRedirect')));
		result.events = await p.evaluate(() => window.events);
		if (!result.events.some((e) => e.event === 'signInWithRedirect')) throw new Error(`sign-in failed: ${JSON.stringify(result.events)}`);

		result.steps.push('session');
		result.state = await p.evaluate(() => window.app.state());
		result.refreshToken = await p.evaluate(() => {
			const key = Object.keys(localStorage).find((k) => k.endsWith('.refreshToken'));
			return key ? localStorage.getItem(key) : null;
		});

		result.steps.push('signOut');
		// The app comes back at the same URL: a mark on this page tells the reloaded one apart.
		await p.evaluate(() => {
			window.beforeSignOut = true;
		});
		await Promise.all([
			p.waitForResponse((r) => new URL(r.url()).host === DOMAIN && new URL(r.url()).pathname === '/logout'),
			p.evaluate(() => void window.app.signOut()),
		]);
		await p.waitForFunction(() => window.ready === true && window.beforeSignOut === undefined);
		if (!p.url().startsWith(APP_URL)) throw new Error(`signed out to ${p.url()}`);
		result.afterSignOut = await p.evaluate(() => window.app.signedIn());

		result.steps.push('signInWithRedirect again');
		await Promise.all([p.waitForURL(/\/login\?/), p.evaluate(() => void window.app.signIn())]);
		result.secondSignInPage = new URL(p.url()).pathname;
		result.ok = true;
	} finally {
		await browser.close();
	}
}

try {
	await run();
} catch (e) {
	result.error = { name: e.name, message: e.message, step: result.steps.at(-1) };
}
app.close();
print();
process.exit(0);
