// Tessera front door: a CloudFront Function (runtime cloudfront-js-2.0, event viewer-request).
//
// The single source of the routing rule. tools/gen-functions.py inlines this file into
// template.yaml; frontdoor/frontdoor.test.js runs it under node. Keep it to what the CloudFront
// runtime offers: one top-level `handler`, no require/import, no module.exports.
//
// Every AWS SDK posts JSON 1.1 requests to "/" and names the operation in a header,
// `X-Amz-Target: AWSCognitoIdentityProviderService.SignUp`. API Gateway cannot route on a header,
// so `POST /` is rewritten to `/<service>/<Operation>`, the route of that operation's function.
// Every other request (JWKS, openid-configuration, CORS preflights, Cognito Sync's REST paths)
// passes unchanged.
//
// SigV4 signs the Host and the path the client sent, and neither reaches the function intact
// (CloudFront sets Host to the origin's, and we rewrite the path), so both are copied into
// x-tessera-original-host / x-tessera-original-uri on every request. They are always overwritten:
// a client cannot pass its own values through the front door.

var SERVICES = {
    AWSCognitoIdentityProviderService: 'cognito-idp',
    AWSCognitoIdentityService: 'cognito-identity',
    // Tessera's own admin operations (signed as cognito-idp).
    TesseraService: 'tessera'
};

// Operation names in the AWS models: letters and digits, starting with a capital.
var OPERATION = /^[A-Z][A-Za-z0-9]{0,127}$/;

function headerValue(headers, name) {
    var h = headers[name];
    return h && typeof h.value === 'string' ? h.value : '';
}

function unknownOperation(event, message) {
    var headers = {
        'content-type': { value: 'application/x-amz-json-1.1' },
        'x-amzn-errortype': { value: 'UnknownOperationException' }
    };
    if (event.context && event.context.requestId) {
        headers['x-amzn-requestid'] = { value: event.context.requestId };
    }
    return {
        statusCode: 400,
        statusDescription: 'Bad Request',
        headers: headers,
        body: {
            encoding: 'text',
            data: JSON.stringify({ __type: 'UnknownOperationException', message: message })
        }
    };
}

function handler(event) {
    var request = event.request;
    var headers = request.headers;

    headers['x-tessera-original-host'] = { value: headerValue(headers, 'host') };
    headers['x-tessera-original-uri'] = { value: request.uri };

    if (request.method !== 'POST' || request.uri !== '/') {
        return request;
    }

    var target = headerValue(headers, 'x-amz-target');
    if (target === '') {
        return unknownOperation(event, 'Missing X-Amz-Target header');
    }
    var dot = target.indexOf('.');
    var prefix = dot > 0 ? target.slice(0, dot) : '';
    var operation = dot > 0 ? target.slice(dot + 1) : '';
    if (!Object.prototype.hasOwnProperty.call(SERVICES, prefix) || !OPERATION.test(operation)) {
        return unknownOperation(event, 'Unknown operation ' + target.slice(0, 256));
    }

    request.uri = '/' + SERVICES[prefix] + '/' + operation;
    return request;
}
