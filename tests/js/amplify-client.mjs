// Drives Amplify JS v6 (aws-amplify, the client most Cognito apps use) against a server with
// `userPoolEndpoint`: sign-in (SRP, Amplify's default), then the session over time. Amplify refreshes
// only with GetTokensFromRefreshToken. tests/e2e/amplify_client.rs runs it.
//
//   node tests/js/amplify-client.mjs '{"endpoint":"http://127.0.0.1:1234/","userPoolId":"us-east-1_X",
//     "clientId":"...","username":"...","password":"..."}'
//
// Steps: signIn; fetchAuthSession; fetchAuthSession({forceRefresh: true}); then Amplify's clock moves
// 2 hours ahead (the access token has expired for it) and fetchAuthSession + fetchUserAttributes must
// refresh on their own; then 2 hours more, to refresh again (with the rotated refresh token, when the
// client rotates them). The server's clock does not move: tokens stay valid there.
//
// Prints one JSON line: {ok, steps: [{step, accessJti, email?}], requests: [{operation, status,
// sentRefreshToken?, gotRefreshToken?}], error?: {name, message, step}}.

const TIMEOUT_MS = 60_000;

function print(result) {
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

setTimeout(() => {
	print({ ok: false, error: { name: 'Timeout', message: `no answer within ${TIMEOUT_MS} ms` } });
	process.exit(2);
}, TIMEOUT_MS).unref();

// Amplify's clock: Date, shifted by `shiftMs` (Amplify reads both Date.now() and new Date()).
const RealDate = Date;
let shiftMs = 0;
class ShiftedDate extends RealDate {
	constructor(...args) {
		if (args.length === 0) super(RealDate.now() + shiftMs);
		else super(...args);
	}
	static now() {
		return RealDate.now() + shiftMs;
	}
}
globalThis.Date = ShiftedDate;

// Every call Amplify makes, with what went in and out (never the tokens themselves).
const requests = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
	const headers = new Headers(init.headers);
	const target = headers.get('x-amz-target') ?? '';
	const operation = target.split('.').pop() || String(url);
	let body = {};
	try {
		body = JSON.parse(init.body ?? '{}');
	} catch {
		// not JSON: nothing to note
	}
	const response = await realFetch(url, init);
	const copy = await response.clone().text();
	let answer = {};
	try {
		answer = JSON.parse(copy);
	} catch {
		// not JSON
	}
	requests.push({
		operation,
		status: response.status,
		sentRefreshToken: body.RefreshToken ? fingerprint(body.RefreshToken) : undefined,
		gotRefreshToken: answer?.AuthenticationResult?.RefreshToken
			? fingerprint(answer.AuthenticationResult.RefreshToken)
			: undefined,
		errorType: response.status >= 400 ? answer.__type : undefined,
	});
	return response;
};

// Enough to compare tokens across calls without printing one.
function fingerprint(token) {
	let h = 0;
	for (const c of token) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
	return `${token.length}:${(h >>> 0).toString(16)}`;
}

const input = JSON.parse(process.argv[2] ?? '{}');
const { Amplify } = await import('aws-amplify');
const { signIn, fetchAuthSession, fetchUserAttributes, signOut } = await import('aws-amplify/auth');

Amplify.configure({
	Auth: {
		Cognito: {
			userPoolId: input.userPoolId,
			userPoolClientId: input.clientId,
			userPoolEndpoint: input.endpoint,
		},
	},
});

const steps = [];
let step = 'signIn';
async function session(name, options) {
	step = name;
	const s = await fetchAuthSession(options);
	if (!s.tokens?.accessToken) throw Object.assign(new Error('fetchAuthSession returned no tokens'), { name: 'NoTokens' });
	const entry = { step: name, accessJti: s.tokens.accessToken.payload.jti, exp: s.tokens.accessToken.payload.exp };
	steps.push(entry);
	return entry;
}

try {
	const result = await signIn({ username: input.username, password: input.password });
	if (!result.isSignedIn) throw new Error(`not signed in: ${JSON.stringify(result.nextStep)}`);
	await session('fetchAuthSession');
	await session('forceRefresh', { forceRefresh: true });
	for (const hours of [2, 4]) {
		shiftMs = hours * 3600_000;
		const entry = await session(`after${hours}h`);
		step = `fetchUserAttributes after${hours}h`;
		entry.email = (await fetchUserAttributes()).email;
	}
	step = 'signOut';
	await signOut();
	print({ ok: true, steps, requests });
} catch (e) {
	print({ ok: false, steps, requests, error: { name: e?.name, message: e?.message, step } });
	process.exitCode = 1;
}
