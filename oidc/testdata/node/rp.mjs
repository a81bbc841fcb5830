// A relying party driven by the certified openid-client library, used by
// TestNodeOpenIDClient. It discovers the provider, prints the authorization
// URL ("AUTH <url>"), reads the callback URL the Go test obtained by signing
// in from stdin, then exchanges the code, checks the ID token, calls
// userinfo and refreshes, and prints "RESULT <json>". With CLIENT2_ID set
// it then starts a second authorization for that client ("AUTH2 <url>"),
// which the test answers from the same browser (single sign-on: no page),
// and prints "RESULT2 <json>" with the second ID token's claims.
import * as client from 'openid-client';
import readline from 'node:readline';

const { ISSUER, CLIENT_ID, REDIRECT_URI, ID_TOKEN_ALG, CLIENT2_ID, CLIENT2_SECRET } = process.env;

const config = await client.discovery(
  new URL(ISSUER),
  CLIENT_ID,
  { id_token_signed_response_alg: ID_TOKEN_ALG || 'RS256' },
  client.None(),
  { execute: [client.allowInsecureRequests] },
);

const verifier = client.randomPKCECodeVerifier();
const challenge = await client.calculatePKCECodeChallenge(verifier);
const state = client.randomState();
const nonce = client.randomNonce();
const authURL = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI,
  scope: 'openid profile email groups roles offline_access',
  code_challenge: challenge,
  code_challenge_method: 'S256',
  state,
  nonce,
});
console.log('AUTH ' + authURL.href);

const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
const callback = (await lines.next()).value;

const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString());
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const claims2 = refreshed.claims();
let reuse = 'accepted';
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (e) {
  reuse = e.error || e.code || String(e);
}

console.log('RESULT ' + JSON.stringify({
  alg: header.alg,
  sub: claims.sub,
  nonce: claims.nonce === nonce,
  tenant: claims.tenant,
  groups: claims.groups,
  roles: claims.roles,
  email: claims.email,
  userinfoSub: userinfo.sub,
  userinfoGroups: userinfo.groups,
  rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
  refreshedSub: claims2 && claims2.sub,
  reuse,
}));

if (CLIENT2_ID) {
  const config2 = await client.discovery(
    new URL(ISSUER),
    CLIENT2_ID,
    {},
    client.ClientSecretPost(CLIENT2_SECRET),
    { execute: [client.allowInsecureRequests] },
  );
  const verifier2 = client.randomPKCECodeVerifier();
  const state2 = client.randomState();
  const nonce2 = client.randomNonce();
  const authURL2 = client.buildAuthorizationUrl(config2, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile groups',
    code_challenge: await client.calculatePKCECodeChallenge(verifier2),
    code_challenge_method: 'S256',
    state: state2,
    nonce: nonce2,
  });
  console.log('AUTH2 ' + authURL2.href);
  const callback2 = (await lines.next()).value;
  const tokens2 = await client.authorizationCodeGrant(config2, new URL(callback2), {
    pkceCodeVerifier: verifier2,
    expectedState: state2,
    expectedNonce: nonce2,
    idTokenExpected: true,
  });
  const c2 = tokens2.claims();
  console.log('RESULT2 ' + JSON.stringify({ sub: c2.sub, sid: c2.sid, firstSid: claims.sid, acr: c2.acr, aud: c2.aud }));
}
rl.close();
