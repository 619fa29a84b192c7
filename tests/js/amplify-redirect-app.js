// A single-page web app as Amplify v6's documentation writes one: signInWithRedirect to the
// pool's auth domain, back with a code that Amplify exchanges itself, then the session, the
// user's attributes (through the JSON API at userPoolEndpoint) and signOut. Bundled by esbuild
// in tests/js/amplify-redirect.mjs; the page gives its settings in window.TESSERA.
//
// The test drives it through window.app and reads the Hub's auth events from window.events.

import { Amplify } from 'aws-amplify';
import {
	fetchAuthSession,
	fetchUserAttributes,
	getCurrentUser,
	signInWithRedirect,
	signOut,
} from 'aws-amplify/auth';
import 'aws-amplify/auth/enable-oauth-listener';
import { Hub } from 'aws-amplify/utils';

const settings = window.TESSERA;
window.events = [];
Hub.listen('auth', ({ payload }) => {
	window.events.push({
		event: payload.event,
		error: payload.data?.error?.name ?? payload.data?.name,
		message: payload.data?.error?.message ?? payload.data?.message,
	});
});

Amplify.configure({
	Auth: {
		Cognito: {
			userPoolId: settings.userPoolId,
			userPoolClientId: settings.clientId,
			userPoolEndpoint: settings.userPoolEndpoint,
			loginWith: {
				oauth: {
					domain: settings.domain,
					scopes: ['openid', 'email', 'profile', 'aws.cognito.signin.user.admin'],
					redirectSignIn: [settings.appUrl],
					redirectSignOut: [settings.appUrl],
					responseType: 'code',
				},
			},
		},
	},
});

function claims(token) {
	return token ? token.payload : null;
}

window.app = {
	signIn: () => signInWithRedirect(),
	signOut: () => signOut(),
	async state() {
		const user = await getCurrentUser();
		const session = await fetchAuthSession();
		const attributes = await fetchUserAttributes();
		return {
			username: user.username,
			userId: user.userId,
			idToken: claims(session.tokens?.idToken),
			accessToken: claims(session.tokens?.accessToken),
			attributes,
		};
	},
	async signedIn() {
		try {
			await getCurrentUser();
			return true;
		} catch (e) {
			return e.name;
		}
	},
};
window.ready = true;
