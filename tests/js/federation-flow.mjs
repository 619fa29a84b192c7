// A federated sign-in in a real browser (Debian's Chromium through playwright-core): the app's
// authorize request at the pool's domain → the OIDC provider's own sign-in and consent pages
// (tests/js/oidc-idp.mjs) → back through the domain's /oauth2/idpresponse → the app's callback
// with a code. tests/e2e/federation_oidc.rs runs it and exchanges the code itself.
//
//   node tests/js/federation-flow.mjs '{"authorizeUrl":"…","viaButton":"Corp"|null,
//     "login":"ada","password":"x","appPort":N,"chromium":"/usr/bin/chromium"}'
//
// With `viaButton`, the authorize request has no identity_provider: the domain's sign-in page
// shows a button per provider, and the script clicks it (axe-core checks that page). Without
// `login`, the provider answers at once (the SAML IdP of tests/py/saml-idp.py, whose page posts
// its Response back by itself).
//
// Prints one JSON line: {ok, callback, steps, violations?, error?}.

import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
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
		],
	});
	try {
		const context = await browser.newContext({ bypassCSP: true });
		const page = await context.newPage();
		result.failed = [];
		page.on('requestfailed', (r) => result.failed.push(`${r.url()} ${r.failure()?.errorText}`));
		result.navigations = [];
		page.on('framenavigated', (f) => {
			if (f === page.mainFrame()) result.navigations.push(f.url().split('?')[0]);
		});
		result.steps.push('authorize');
		await page.goto(input.authorizeUrl);
		if (input.viaButton) {
			await page.waitForURL(/\/login\?/);
			await page.addScriptTag({ path: AXE });
			const axe = await page.evaluate(async () => {
				const r = await window.axe.run(document, { resultTypes: ['violations'] });
				return r.violations.map((v) => ({ id: v.id, impact: v.impact }));
			});
			result.violations = axe;
			result.steps.push('provider button');
			await Promise.all([page.waitForLoadState('load'), page.getByRole('link', { name: input.viaButton }).click()]);
		}
		if (!input.login) {
			// An IdP that answers at once (tests/py/saml-idp.py): its page posts the SAML Response
			// to the domain by itself, cross-site.
			result.steps.push('provider answer');
			await page.waitForURL((u) => u.href.startsWith(CALLBACK), { waitUntil: 'commit' });
			result.callback = page.url();
			result.ok = true;
			return;
		}
		result.steps.push('provider sign-in');
		await page.waitForSelector('input[name=login]');
		result.providerPage = new URL(page.url()).origin;
		await page.fill('input[name=login]', input.login);
		await page.fill('input[name=password]', input.password);
		await Promise.all([page.waitForLoadState('load'), page.click('button.login-submit')]);
		result.steps.push('provider consent');
		await Promise.all([
			page.waitForURL((u) => u.href.startsWith(CALLBACK), { waitUntil: 'commit' }),
			page.click('button.login-submit'),
		]);
		result.callback = page.url();
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
