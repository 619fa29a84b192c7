// Drives amazon-cognito-identity-js, the reference Cognito client, against a server: the SDK's default
// USER_SRP_AUTH flow, TOTP MFA and remembered-device sign-in. tests/e2e/js_client.rs runs it.
//
//   node tests/js/cognito-client.mjs '{"endpoint":"http://127.0.0.1:1234/","userPoolId":"us-east-1_X",
//     "clientId":"...","username":"...","password":"...","scenario":"password"}'
//
// Scenarios:
//   password   one sign-in; answers NEW_PASSWORD_REQUIRED with `newPassword` when given
//   totp       one sign-in that must pass SOFTWARE_TOKEN_MFA with a code computed from `totpSecret`
//   device     sign-in (with TOTP when `totpSecret` is given; the SDK confirms the new device itself),
//              UpdateDeviceStatus remembered, then two more sign-ins with the same storage: a new
//              CognitoUser (DEVICE_KEY read from storage after InitiateAuth) and the same CognitoUser again
//              (DEVICE_KEY already in InitiateAuth); both must pass DEVICE_SRP_AUTH without an MFA code
//              (`"remember": false`: no UpdateDeviceStatus, and one more sign-in, which passes the TOTP code and
//              then the device challenges)
//   totp-code  no sign-in: prints the RFC 6238 code of `totpSecret` for now (for VerifySoftwareToken)
//
// Prints one JSON line: {ok, challengesSeen, idTokenPayload?, error?: {code, message}, ...}. `requests`
// lists each call the SDK made with the parameter names it sent, so a failure shows where it stopped.
// `totpAfterStep`: send a code for a later 30-second step than this one (a code is never accepted twice).

import { createHmac } from 'node:crypto';
import sdk from 'amazon-cognito-identity-js';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = sdk;

const TIMEOUT_MS = 60_000;

function print(result) {
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

// A hung request must end the test with a message, not hang it.
setTimeout(() => {
	print({ ok: false, challengesSeen: [], error: { code: 'Timeout', message: `no answer within ${TIMEOUT_MS} ms` } });
	process.exit(2);
}, TIMEOUT_MS).unref();

/** An in-memory Storage with the interface the SDK uses (setItem, getItem, removeItem, clear). */
class MemoryStorage {
	constructor() {
		this.items = new Map();
	}
	setItem(key, value) {
		this.items.set(key, String(value));
		return value;
	}
	getItem(key) {
		return this.items.has(key) ? this.items.get(key) : null;
	}
	removeItem(key) {
		return this.items.delete(key);
	}
	clear() {
		this.items.clear();
	}
}

function base32Decode(text) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = 0;
	let value = 0;
	const out = [];
	for (const ch of text.replace(/=+$/, '').toUpperCase()) {
		const index = alphabet.indexOf(ch);
		if (index < 0) throw new Error(`not base32: ${ch}`);
		value = (value << 5) | index;
		bits += 5;
		if (bits >= 8) {
			out.push((value >>> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(out);
}

/** RFC 6238 with RFC 4226's truncation: HMAC-SHA1, 6 digits, 30-second steps. */
function totp(secret, step) {
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(step));
	const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
	const offset = mac[mac.length - 1] & 0x0f;
	const binary = mac.readUInt32BE(offset) & 0x7fffffff;
	return String(binary % 1_000_000).padStart(6, '0');
}

const currentStep = () => Math.floor(Date.now() / 1000 / 30);

/** The step to answer with: now, or the one after a step already used (within the server's ±1 window). */
async function nextTotpStep(input, used) {
	const step = Math.max(currentStep(), Math.max(input.totpAfterStep ?? -1, ...used) + 1);
	// Two steps ahead would be refused: wait for the clock to come within one step.
	while (step > currentStep() + 1) await new Promise(resolve => setTimeout(resolve, 250));
	return step;
}

function decodeJwtPayload(jwt) {
	const part = jwt.split('.')[1];
	return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function errorOf(err) {
	return { code: err?.code ?? err?.name ?? 'Error', message: err?.message ?? String(err) };
}

/** Records every request the SDK makes through the pool's client, and the challenge each answer names. */
function instrument(pool) {
	const log = { requests: [], challengesSeen: [] };
	const client = pool.client;
	const original = client.request.bind(client);
	client.request = (operation, params, callback) => {
		// The auth parameters or challenge responses sent; for other operations their top-level names.
		const sent = params.AuthParameters ?? params.ChallengeResponses ?? params;
		const entry = {
			operation,
			...(params.AuthFlow ? { authFlow: params.AuthFlow } : {}),
			...(params.ChallengeName ? { challengeName: params.ChallengeName } : {}),
			parameters: Object.keys(sent).filter(k => sent[k] != null).sort(),
		};
		log.requests.push(entry);
		original(operation, params, (err, data) => {
			if (err) {
				entry.error = errorOf(err);
			} else if (data?.ChallengeName) {
				entry.challenge = data.ChallengeName;
				log.challengesSeen.push(data.ChallengeName);
			}
			callback(err, data);
		});
	};
	return log;
}

/**
 * One authenticateUser call. Resolves {session, userConfirmationNecessary} or rejects with the error; an
 * unexpected challenge rejects with code UnexpectedChallenge.
 */
function signIn(user, input, options) {
	return new Promise((resolve, reject) => {
		const unexpected = name => () =>
			reject({ code: 'UnexpectedChallenge', message: `the server asked for ${name}` });
		const callbacks = {
			onSuccess: (session, userConfirmationNecessary) => resolve({ session, userConfirmationNecessary }),
			onFailure: err => reject(err),
			newPasswordRequired: () => {
				if (!input.newPassword) return unexpected('NEW_PASSWORD_REQUIRED')();
				return user.completeNewPasswordChallenge(input.newPassword, {}, callbacks);
			},
			totpRequired: async () => {
				if (!options.totp || !input.totpSecret) return unexpected('SOFTWARE_TOKEN_MFA')();
				const step = await nextTotpStep(input, options.usedSteps);
				options.usedSteps.push(step);
				return user.sendMFACode(totp(input.totpSecret, step), callbacks, 'SOFTWARE_TOKEN_MFA');
			},
			mfaRequired: unexpected('SMS_MFA'),
			selectMFAType: unexpected('SELECT_MFA_TYPE'),
			mfaSetup: unexpected('MFA_SETUP'),
			customChallenge: unexpected('CUSTOM_CHALLENGE'),
		};
		user.authenticateUser(
			new AuthenticationDetails({ Username: input.username, Password: input.password }),
			callbacks
		);
	});
}

function deviceStatusRemembered(user) {
	return new Promise((resolve, reject) => {
		user.setDeviceStatusRemembered({ onSuccess: resolve, onFailure: reject });
	});
}

async function run(input) {
	if (input.scenario === 'totp-code') {
		const step = currentStep();
		return { ok: true, challengesSeen: [], code: totp(input.totpSecret, step), step };
	}
	const storage = new MemoryStorage();
	const pool = new CognitoUserPool({
		UserPoolId: input.userPoolId,
		ClientId: input.clientId,
		endpoint: input.endpoint,
		Storage: storage,
	});
	const log = instrument(pool);
	const newUser = () => new CognitoUser({ Username: input.username, Pool: pool, Storage: storage });
	const usedSteps = [];
	const result = { ok: false, challengesSeen: log.challengesSeen, requests: log.requests };
	const user = newUser();
	try {
		switch (input.scenario) {
			case 'password':
			case 'totp': {
				const { session } = await signIn(user, input, { totp: input.scenario === 'totp', usedSteps });
				result.idTokenPayload = decodeJwtPayload(session.getIdToken().getJwtToken());
				result.ok = true;
				return result;
			}
			case 'device': {
				const signIns = [];
				result.signIns = signIns;
				const record = async (who, mfa) => {
					const from = log.requests.length;
					const seenFrom = log.challengesSeen.length;
					const entry = { challengesSeen: [], requests: [] };
					signIns.push(entry);
					try {
						const outcome = await signIn(who, input, { totp: mfa, usedSteps });
						entry.idTokenPayload = decodeJwtPayload(outcome.session.getIdToken().getJwtToken());
						entry.accessTokenPayload = decodeJwtPayload(outcome.session.getAccessToken().getJwtToken());
						return outcome;
					} finally {
						entry.challengesSeen = log.challengesSeen.slice(seenFrom);
						entry.requests = log.requests.slice(from);
					}
				};
				const first = await record(user, true);
				result.userConfirmationNecessary = first.userConfirmationNecessary === true;
				result.deviceKey = user.deviceKey ?? null;
				result.deviceGroupKey = user.deviceGroupKey ?? null;
				if (!user.deviceKey) {
					throw { code: 'NoDevice', message: 'the first sign-in returned no NewDeviceMetadata' };
				}
				if (input.remember === false) {
					// Tracked but not remembered: the next sign-in needs the code again, then the device proof.
					await record(newUser(), true);
				} else {
					await deviceStatusRemembered(user);
					// An app restarted with the same storage: DEVICE_KEY comes from storage after InitiateAuth.
					await record(newUser(), false);
					// The same CognitoUser again: DEVICE_KEY is sent with InitiateAuth too.
					await record(user, false);
				}
				result.ok = true;
				return result;
			}
			default:
				throw { code: 'BadScenario', message: `unknown scenario ${input.scenario}` };
		}
	} catch (err) {
		result.error = errorOf(err);
		return result;
	}
}

let input;
try {
	input = JSON.parse(process.argv[2] ?? '');
} catch (err) {
	print({ ok: false, challengesSeen: [], error: { code: 'BadInput', message: `argument is not JSON: ${err.message}` } });
	process.exit(2);
}
print(await run(input));
process.exit(0);
