// Tests for the front door's CloudFront Function. Run: node frontdoor/frontdoor.test.js
// (node 18+, no npm packages). frontdoor.js is loaded the way CloudFront runs it: a script with a
// top-level `handler`, no module system.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const vm = require('node:vm');

const SOURCE_PATH = path.join(__dirname, 'frontdoor.js');
const SOURCE = fs.readFileSync(SOURCE_PATH, 'utf8');

function loadHandler() {
    const sandbox = {};
    vm.createContext(sandbox);
    vm.runInContext(SOURCE, sandbox, { filename: SOURCE_PATH });
    assert.equal(typeof sandbox.handler, 'function', 'frontdoor.js must define a top-level handler');
    return sandbox.handler;
}

const handler = loadHandler();

// A CloudFront Functions viewer-request event (event structure version 1.0).
function event({ method = 'POST', uri = '/', headers = {}, host = 'd111111abcdef8.cloudfront.net' } = {}) {
    const hs = {};
    if (host !== null) hs.host = { value: host };
    for (const [k, v] of Object.entries(headers)) hs[k.toLowerCase()] = { value: v };
    return {
        version: '1.0',
        context: {
            distributionDomainName: 'd111111abcdef8.cloudfront.net',
            distributionId: 'EDFDVBD6EXAMPLE',
            eventType: 'viewer-request',
            requestId: 'EXAMPLE-REQUEST-ID==',
        },
        viewer: { ip: '203.0.113.10' },
        request: { method, uri, querystring: {}, headers: hs, cookies: {} },
    };
}

function target(t) {
    return { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': t };
}

function assertUnknown(result, messagePart) {
    assert.equal(result.statusCode, 400);
    assert.equal(result.headers['content-type'].value, 'application/x-amz-json-1.1');
    assert.equal(result.headers['x-amzn-errortype'].value, 'UnknownOperationException');
    assert.equal(result.headers['x-amzn-requestid'].value, 'EXAMPLE-REQUEST-ID==');
    assert.equal(result.body.encoding, 'text');
    const body = JSON.parse(result.body.data);
    assert.equal(body.__type, 'UnknownOperationException');
    assert.ok(body.message.includes(messagePart), `message ${JSON.stringify(body.message)} lacks ${messagePart}`);
    assert.equal(result.uri, undefined, 'an error is a response, not a request');
}

test('rewrites a user-pool target to /cognito-idp/<Operation>', () => {
    const r = handler(event({ headers: target('AWSCognitoIdentityProviderService.SignUp') }));
    assert.equal(r.uri, '/cognito-idp/SignUp');
    assert.equal(r.method, 'POST');
});

test('rewrites admin operations the same way', () => {
    const r = handler(event({ headers: target('AWSCognitoIdentityProviderService.AdminInitiateAuth') }));
    assert.equal(r.uri, '/cognito-idp/AdminInitiateAuth');
});

test('rewrites an identity-pool target to /cognito-identity/<Operation>', () => {
    const r = handler(event({ headers: target('AWSCognitoIdentityService.GetId') }));
    assert.equal(r.uri, '/cognito-identity/GetId');
});

test("rewrites Tessera's own operations to /tessera/<Operation>", () => {
    const r = handler(event({ headers: target('TesseraService.RotateSigningKeys') }));
    assert.equal(r.uri, '/tessera/RotateSigningKeys');
});

test('rewrites every identity-pool operation, signed or not, to /cognito-identity/<Operation>', () => {
    for (const op of ['GetCredentialsForIdentity', 'GetOpenIdTokenForDeveloperIdentity', 'ListIdentityPools', 'UnlinkIdentity']) {
        const r = handler(event({
            headers: Object.assign(target('AWSCognitoIdentityService.' + op), {
                authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/cognito-identity/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0',
            }),
        }));
        assert.equal(r.uri, '/cognito-identity/' + op);
        assert.equal(r.headers['x-tessera-original-uri'].value, '/', 'the identity service signs POST /');
        assert.equal(r.headers.authorization.value.startsWith('AWS4-HMAC-SHA256'), true);
    }
});

test('rejects a malformed identity-pool target like any other', () => {
    assertUnknown(handler(event({ headers: target('AWSCognitoIdentityService.get-id') })), 'Unknown operation');
    assertUnknown(handler(event({ headers: target('AWSCognitoIdentityService.') })), 'Unknown operation');
    assertUnknown(handler(event({ headers: target('AWSCognitoSyncService.ListRecords') })), 'Unknown operation');
});

test('passes Cognito Sync requests through unchanged, keeping the signed (encoded) path', () => {
    const dataset = '/identitypools/us-east-1%3A0f5e7a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f/identities/'
        + 'us-east-1%3A5b1e0c2a-7d4f-4e8b-9a6c-3f2d1e0b9c8a/datasets/settings';
    for (const [method, uri] of [
        ['GET', dataset + '/records'],
        ['POST', dataset],
        ['DELETE', dataset],
        ['POST', dataset + '/subscriptions/device-1'],
        ['DELETE', dataset + '/subscriptions/device-1'],
        ['GET', '/identitypools'],
        ['POST', '/identitypools/us-east-1%3A0f5e7a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f/configuration'],
    ]) {
        const r = handler(event({ method, uri, headers: { 'content-type': 'application/json', 'x-amz-security-token': 'token' } }));
        assert.equal(r.statusCode, undefined, `${method} ${uri} must not be answered by the front door`);
        assert.equal(r.method, method);
        assert.equal(r.uri, uri);
        assert.equal(r.headers['x-tessera-original-uri'].value, uri);
        assert.equal(r.headers['x-amz-security-token'].value, 'token');
    }
});

test('leaves the identity issuer documents alone', () => {
    for (const doc of ['jwks.json', 'openid-configuration']) {
        const uri = '/cognito-identity/.well-known/' + doc;
        const r = handler(event({ method: 'GET', uri }));
        assert.equal(r.uri, uri);
        assert.equal(r.headers['x-tessera-original-uri'].value, uri);
    }
});

test('keeps what the client signed: original Host and URI', () => {
    const r = handler(event({ headers: target('AWSCognitoIdentityProviderService.AdminGetUser'), host: 'auth.example.com' }));
    assert.equal(r.headers['x-tessera-original-uri'].value, '/');
    assert.equal(r.headers['x-tessera-original-host'].value, 'auth.example.com');
    // The signed headers themselves are untouched.
    assert.equal(r.headers.host.value, 'auth.example.com');
    assert.equal(r.headers['x-amz-target'].value, 'AWSCognitoIdentityProviderService.AdminGetUser');
    assert.equal(r.headers['content-type'].value, 'application/x-amz-json-1.1');
});

test('overwrites original-host/uri headers a client sent itself', () => {
    const r = handler(event({
        headers: Object.assign(target('AWSCognitoIdentityProviderService.AdminGetUser'), {
            'x-tessera-original-host': 'evil.example',
            'x-tessera-original-uri': '/evil',
        }),
    }));
    assert.equal(r.headers['x-tessera-original-host'].value, 'd111111abcdef8.cloudfront.net');
    assert.equal(r.headers['x-tessera-original-uri'].value, '/');
});

test('leaves other paths alone but still records the original Host and URI', () => {
    const uri = '/us-east-1_TesseraEx/.well-known/jwks.json';
    const r = handler(event({ method: 'GET', uri }));
    assert.equal(r.uri, uri);
    assert.equal(r.headers['x-tessera-original-uri'].value, uri);
    assert.equal(r.headers['x-tessera-original-host'].value, 'd111111abcdef8.cloudfront.net');
});

test('leaves a POST to another path alone, even with a target header', () => {
    const r = handler(event({ uri: '/cognito-idp/SignUp', headers: target('AWSCognitoIdentityProviderService.SignUp') }));
    assert.equal(r.uri, '/cognito-idp/SignUp');
    const sync = handler(event({ uri: '/identitypools/us-east-1:x/identities/y/datasets', method: 'POST' }));
    assert.equal(sync.uri, '/identitypools/us-east-1:x/identities/y/datasets');
});

test('leaves CORS preflights to / alone (API Gateway answers them)', () => {
    const r = handler(event({ method: 'OPTIONS', headers: { 'access-control-request-headers': 'x-amz-target' } }));
    assert.equal(r.uri, '/');
    assert.equal(r.statusCode, undefined);
});

test('leaves GET / alone', () => {
    assert.equal(handler(event({ method: 'GET' })).uri, '/');
});

test('answers an unknown target prefix with 400 UnknownOperationException', () => {
    assertUnknown(handler(event({ headers: target('DynamoDB_20120810.GetItem') })), 'DynamoDB_20120810.GetItem');
});

test('answers a missing target with 400 UnknownOperationException', () => {
    assertUnknown(handler(event({ headers: { 'content-type': 'application/x-amz-json-1.1' } })), 'Missing X-Amz-Target');
});

test('rejects targets without an operation or with a malformed one', () => {
    for (const t of [
        'AWSCognitoIdentityProviderService',
        'AWSCognitoIdentityProviderService.',
        '.SignUp',
        'AWSCognitoIdentityProviderService.Sign/Up',
        'AWSCognitoIdentityProviderService.../admin',
        'AWSCognitoIdentityProviderService.SignUp?x=1',
        'AWSCognitoIdentityProviderService.signUp',
        'AWSCognitoIdentityProviderService.Sign%2FUp',
        'AWSCognitoIdentityProviderService.' + 'A'.repeat(200),
    ]) {
        assertUnknown(handler(event({ headers: target(t) })), 'Unknown operation');
    }
});

test('does not treat Object.prototype names as service prefixes', () => {
    for (const p of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        assertUnknown(handler(event({ headers: target(p + '.SignUp') })), 'Unknown operation');
    }
});

test('prefixes are case-sensitive, as in AWS', () => {
    assertUnknown(handler(event({ headers: target('awscognitoidentityproviderservice.SignUp') })), 'Unknown operation');
});

test('echoes a long bad target only in part', () => {
    const r = handler(event({ headers: target('X'.repeat(5000)) }));
    assert.ok(JSON.parse(r.body.data).message.length < 300);
});

test('works without a Host header', () => {
    const r = handler(event({ host: null, headers: target('AWSCognitoIdentityProviderService.SignUp') }));
    assert.equal(r.uri, '/cognito-idp/SignUp');
    assert.equal(r.headers['x-tessera-original-host'].value, '');
});

test('fits CloudFront Functions limits: code under 10 KB, no module system', () => {
    assert.ok(Buffer.byteLength(SOURCE, 'utf8') < 10 * 1024);
    const code = SOURCE.replace(/^\s*\/\/.*$/gm, '');
    assert.doesNotMatch(code, /\brequire\s*\(|\bmodule\.exports\b|^\s*(import|export)\s/m);
});
