// Drives amazon-cognito-js (the Cognito Sync Manager, on aws-sdk v2) against a server: two devices of one
// identity open a dataset, put records, synchronize, resolve a conflict and see a removal.
// tests/e2e/js_sync_client.rs runs it.
//
//   node tests/js/sync-client.mjs '{"endpoint":"http://127.0.0.1:1234","region":"us-east-1",
//     "identityPoolId":"us-east-1:...","logins":{"127.0.0.1:1234/us-east-1_X":"<ID token>"}}'
//
// Credentials come from AWS.CognitoIdentityCredentials, the SDK's enhanced flow (GetId, then
// GetCredentialsForIdentity). Without `logins` the identity is unauthenticated and device B is given device
// A's IdentityId (as an app restores it from storage); with `logins` each device calls GetId with the same
// login. Each device is its own CognitoSyncManager with its own in-memory store (node has no localStorage).
//
// Steps, on the dataset `dataset` (default "profile"):
//   A1  A puts name=Amy, color=green, level=1 and synchronizes
//   B1  B synchronizes and reads A's values
//   A2  A puts color=red, nickname=Ace and synchronizes
//   B2  B puts color=blue, nickname=Bee, level=2 and synchronizes: onConflict for color and nickname; color is
//       resolved with the remote record (A's red), nickname with the local one (Bee, pushed over A's Ace)
//   A3  A synchronizes and gets Bee and level=2
//   A4  A removes level and synchronizes
//   B3  B synchronizes and gets the removal. This client keeps a removed record with the value "" (its Record
//       turns a missing Value into ""), so B's dataset still lists `level`, with "" and the removal's sync count.
// Then, on the dataset `scratchDataset` (default "scratch"):
//   D1  A puts draft=x and synchronizes; D2 B synchronizes and gets it
//   D3  A deletes the dataset (the Sync Manager's local delete, then synchronize, which calls DeleteDataset)
//   D4  B synchronizes: the server reports the deletion and B's onDatasetDeleted is called. It answers false (see
//       onDatasetDeleted below), so this step ends in onFailure.
//
// Known limits of amazon-cognito-js 1.1.0 (client-side; the scenario keeps clear of them): after onConflict it
// pushes its changes and moves its last sync count to the pushed records' count, so remote changes to keys that
// were not in conflict and arrived in the same ListRecords are skipped by that device; removed records read back
// as ""; refreshDatasetMetadata resets the local last sync count to 0.
//
// Prints one JSON line: {ok, identityIds: {A, B}, accessKeyIdsDiffer, credentialRequests, steps: [{name, device,
// ok, error?, conflicts, values, lastSyncCount, records, requests}], error?}. `requests` lists each call the SDK made in that step: the
// operation, HTTP status, error code, and for ListRecords/UpdateRecords what it asked for and got back.

import AWS from 'aws-sdk';
import 'amazon-cognito-js';

const TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 20_000;

function print(result) {
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

// A hung request must end the test with a message, not hang it.
setTimeout(() => {
	print({ ok: false, steps: [], error: { code: 'Timeout', message: `no answer within ${TIMEOUT_MS} ms` } });
	process.exit(2);
}, TIMEOUT_MS).unref();

function errorOf(err) {
	return { code: err?.code ?? err?.name ?? 'Error', message: err?.message ?? String(err) };
}

// Every request the SDK completes, labelled with the step that made it.
const requests = [];
let currentStep = 'setup';
AWS.events.on('complete', response => {
	const request = response.request;
	const params = request.params ?? {};
	const entry = {
		step: currentStep,
		operation: request.operation,
		status: response.httpResponse?.statusCode ?? null,
	};
	if (response.error) entry.error = errorOf(response.error);
	if (request.operation === 'getId' || request.operation === 'getCredentialsForIdentity') {
		entry.logins = Object.keys(params.Logins ?? {});
	}
	if (request.operation === 'listRecords') {
		entry.lastSyncCount = params.LastSyncCount ?? null;
		if (response.data) {
			entry.datasetSyncCount = response.data.DatasetSyncCount;
			entry.datasetExists = response.data.DatasetExists;
			entry.datasetDeletedAfterRequestedSyncCount = response.data.DatasetDeletedAfterRequestedSyncCount;
			entry.records = (response.data.Records ?? []).map(r => ({ key: r.Key, value: r.Value ?? null, syncCount: r.SyncCount }));
			entry.sessionToken = typeof response.data.SyncSessionToken === 'string' && response.data.SyncSessionToken.length > 0;
		}
	}
	if (request.operation === 'updateRecords') {
		entry.patches = (params.RecordPatches ?? []).map(p => ({ op: p.Op, key: p.Key, value: p.Value ?? null, syncCount: p.SyncCount }));
		if (response.data) {
			entry.records = (response.data.Records ?? []).map(r => ({ key: r.Key, value: r.Value ?? null, syncCount: r.SyncCount }));
		}
	}
	requests.push(entry);
});

AWS.config.update({
	region: input().region ?? 'us-east-1',
	cognitoidentity: { endpoint: input().endpoint },
	cognitosync: { endpoint: input().endpoint },
	maxRetries: 0,
});

function input() {
	return JSON.parse(process.argv[2] ?? '{}');
}

/** Credentials for one device; resolves when GetId and GetCredentialsForIdentity are done. */
async function credentials(params) {
	const creds = new AWS.CognitoIdentityCredentials(params);
	await creds.getPromise();
	return creds;
}

/** A Sync Manager on `creds`: it takes AWS.config.credentials when it is made, and so does its CognitoSync client. */
function syncManager(creds) {
	AWS.config.credentials = creds;
	return new AWS.CognitoSyncManager({ DataStore: AWS.CognitoSyncManager.StoreInMemory });
}

const call = (fn) =>
	new Promise((resolve, reject) => fn((err, data) => (err ? reject(err) : resolve(data))));

function openDataset(manager, name) {
	return call(cb => manager.openOrCreateDataset(name, cb));
}

/**
 * One synchronize(). `policy` maps a conflicting key to "remote" or "local"; a conflict on a key it does not
 * name cancels the sync (the JavaScript client's default).
 */
function synchronize(dataset, policy) {
	return new Promise(resolve => {
		const outcome = { ok: false, conflicts: [] };
		const done = () => resolve(outcome);
		const timer = setTimeout(() => {
			outcome.error = { code: 'Timeout', message: `synchronize did not finish within ${STEP_TIMEOUT_MS} ms` };
			done();
		}, STEP_TIMEOUT_MS);
		const finish = () => {
			clearTimeout(timer);
			done();
		};
		dataset.synchronize({
			onSuccess: (_ds, updates) => {
				outcome.ok = true;
				outcome.newRemoteRecords = (updates ?? []).map(r => r.getKey()).sort();
				finish();
			},
			onFailure: err => {
				outcome.error = errorOf(err);
				finish();
			},
			onConflict: (ds, conflicts, proceed) => {
				const resolved = [];
				for (const c of conflicts) {
					const how = policy?.[c.getKey()];
					outcome.conflicts.push({
						key: c.getKey(),
						local: c.getLocalRecord().getValue(),
						remote: c.getRemoteRecord().getValue(),
						remoteSyncCount: c.getRemoteRecord().getSyncCount(),
						resolvedWith: how ?? null,
					});
					if (how === 'remote') resolved.push(c.resolveWithRemoteRecord());
					else if (how === 'local') resolved.push(c.resolveWithLocalRecord());
				}
				if (resolved.length !== conflicts.length) return proceed(false);
				ds.resolve(resolved, err => {
					if (err) {
						outcome.error = errorOf(err);
						return proceed(false);
					}
					return proceed(true);
				});
			},
			// Answering true makes amazon-cognito-js 1.1.0 call a method it does not have (_synchronizeInternal);
			// false ends the sync with onFailure, the local copy kept.
			onDatasetDeleted: (_ds, name, proceed) => {
				outcome.datasetDeleted = name;
				proceed(false);
			},
			onDatasetsMerged: (_ds, merged, proceed) => {
				outcome.merged = merged;
				proceed(false);
			},
		});
	});
}

async function snapshot(dataset) {
	const values = await call(cb => dataset.getAll(cb));
	const records = await call(cb => dataset.getAllRecords(cb));
	const meta = await call(cb => dataset.getDatasetMetadata(cb));
	return {
		values,
		lastSyncCount: meta?.getLastSyncCount?.() ?? null,
		records: records
			.map(r => ({ key: r.getKey(), value: r.getValue(), syncCount: r.getSyncCount(), modified: r.isModified() }))
			.sort((a, b) => a.key.localeCompare(b.key)),
	};
}

const result = { ok: false, identityIds: {}, steps: [] };

async function run(args) {
	const datasetName = args.dataset ?? 'profile';
	const scratchName = args.scratchDataset ?? 'scratch';
	const base = { IdentityPoolId: args.identityPoolId, ...(args.logins ? { Logins: args.logins } : {}) };

	currentStep = 'credentials A';
	const credsA = await credentials({ ...base });
	result.identityIds.A = credsA.identityId;
	currentStep = 'credentials B';
	const credsB = await credentials(args.logins ? { ...base } : { ...base, IdentityId: credsA.identityId });
	result.identityIds.B = credsB.identityId;
	result.accessKeyIdsDiffer = credsA.accessKeyId !== credsB.accessKeyId;

	result.credentialRequests = requests.slice();

	const devices = { A: syncManager(credsA), B: syncManager(credsB) };
	const datasets = {
		A: await openDataset(devices.A, datasetName),
		B: await openDataset(devices.B, datasetName),
	};
	const scratch = {
		A: await openDataset(devices.A, scratchName),
		B: await openDataset(devices.B, scratchName),
	};

	const step = async (name, device, change, policy, options = {}) => {
		currentStep = name;
		const ds = (options.scratch ? scratch : datasets)[device];
		const from = requests.length;
		if (change) await change(ds);
		const outcome = await synchronize(ds, policy);
		const entry = { name, device, ...outcome, ...(await snapshot(ds)), requests: requests.slice(from) };
		result.steps.push(entry);
		if (!outcome.ok && !options.mayFail) {
			throw { code: 'SyncFailed', message: `step ${name}: ${outcome.error?.message ?? 'failed'}` };
		}
		return entry;
	};

	await step('A1', 'A', ds => call(cb => ds.putAll({ name: 'Amy', color: 'green', level: '1' }, cb)));
	await step('B1', 'B');
	await step('A2', 'A', ds => call(cb => ds.putAll({ color: 'red', nickname: 'Ace' }, cb)));
	await step(
		'B2',
		'B',
		ds => call(cb => ds.putAll({ color: 'blue', nickname: 'Bee', level: '2' }, cb)),
		{ color: 'remote', nickname: 'local' }
	);
	await step('A3', 'A');
	await step('A4', 'A', ds => call(cb => ds.remove('level', cb)));
	await step('B3', 'B');

	const inScratch = { scratch: true };
	await step('D1', 'A', ds => call(cb => ds.put('draft', 'x', cb)), null, inScratch);
	await step('D2', 'B', null, null, inScratch);
	// The Sync Manager's delete: the local copy goes, its last sync count becomes -1, and the next synchronize
	// calls DeleteDataset.
	await step(
		'D3',
		'A',
		() => call(cb => devices.A.local.deleteDataset(credsA.identityId, scratchName, cb)),
		null,
		inScratch
	);
	await step('D4', 'B', null, null, { ...inScratch, mayFail: true });
	result.ok = true;
}

let args;
try {
	args = input();
} catch (err) {
	print({ ok: false, steps: [], error: errorOf(err) });
	process.exit(1);
}
run(args)
	.then(() => {
		print(result);
		process.exit(0);
	})
	.catch(err => {
		// What was done so far, and every request, so a failure shows where it stopped.
		print({ ...result, ok: false, error: errorOf(err), requests });
		process.exit(1);
	});
