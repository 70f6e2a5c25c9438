/// <reference lib="dom" />
/**
 * Sign-in of the deployed console (docs/OPERATORS.md): no AWS keys in the page.
 *
 * 1. Cognito user pool, `InitiateAuth` USER_PASSWORD_AUTH (and `RespondToAuthChallenge` for
 *    NEW_PASSWORD_REQUIRED / SOFTWARE_TOKEN_MFA) → an ID token and a refresh token;
 * 2. Cognito identity pool, `GetId` + `GetCredentialsForIdentity` with that ID token → temporary
 *    credentials (1 hour) of the operators role, whose only permission is `execute-api:Invoke` on the
 *    operator routes;
 * 3. every API call is signed with SigV4 (`@smithy/signature-v4`, as the CLI) with those credentials.
 *
 * All of it is plain `fetch` to the public Cognito endpoints (no SDK). Tokens and credentials live in
 * memory only: a reload asks to sign in again. Nothing here runs in local mode (no `SUNDIAL_AUTH`).
 */
import { SignatureV4 } from '@smithy/signature-v4';

export interface AuthConfig {
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  identityPoolId: string;
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: number; // epoch ms
}

/** A challenge Cognito asks to answer before it signs the user in. */
export interface Challenge {
  name: 'NEW_PASSWORD_REQUIRED' | 'SOFTWARE_TOKEN_MFA';
  username: string;
  session: string;
}

type Bytes = string | ArrayBuffer | ArrayBufferView;
const toBytes = (d: Bytes): Uint8Array =>
  typeof d === 'string' ? new TextEncoder().encode(d) : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** SHA-256 / HMAC-SHA-256 over WebCrypto, in the shape @smithy/signature-v4 takes. */
class WebSha256 {
  private chunks: Uint8Array[] = [];
  constructor(private readonly secret?: Bytes) {}
  update(data: Bytes): void {
    this.chunks.push(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    const data = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      data.set(c, at);
      at += c.length;
    }
    if (this.secret === undefined) return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    const key = await crypto.subtle.importKey('raw', toBytes(this.secret) as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', key, data));
  }
  reset(): void {
    this.chunks = [];
  }
}

class CognitoError extends Error {}

export class ConsoleAuth {
  private idToken?: string;
  private refreshToken?: string;
  private identityId?: string;
  private credentials?: Credentials;
  private signer?: SignatureV4;
  username?: string;

  constructor(private readonly config: AuthConfig) {}

  get signedIn(): boolean {
    return this.refreshToken !== undefined || (this.credentials !== undefined && this.credentials.expiration > Date.now());
  }

  private async call(service: 'idp' | 'identity', target: string, body: unknown): Promise<any> {
    const [host, prefix] = service === 'idp' ? ['cognito-idp', 'AWSCognitoIdentityProviderService'] : ['cognito-identity', 'AWSCognitoIdentityService'];
    const res = await fetch(`https://${host}.${this.config.region}.amazonaws.com/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${prefix}.${target}` },
      body: JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new CognitoError(`${json.message ?? json.Message ?? json.__type ?? res.status}`);
    return json;
  }

  /** Signs in with a username and password; answers a challenge, or undefined when signed in. */
  async signIn(username: string, password: string): Promise<Challenge | undefined> {
    const out = await this.call('idp', 'InitiateAuth', {
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: this.config.userPoolClientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    return this.afterAuth(username, out);
  }

  /** Answers a challenge: the new password (NEW_PASSWORD_REQUIRED) or the TOTP code (SOFTWARE_TOKEN_MFA). */
  async answer(challenge: Challenge, value: string): Promise<Challenge | undefined> {
    const responses: Record<string, string> = { USERNAME: challenge.username };
    if (challenge.name === 'NEW_PASSWORD_REQUIRED') responses.NEW_PASSWORD = value;
    else responses.SOFTWARE_TOKEN_MFA_CODE = value;
    const out = await this.call('idp', 'RespondToAuthChallenge', {
      ChallengeName: challenge.name,
      ClientId: this.config.userPoolClientId,
      Session: challenge.session,
      ChallengeResponses: responses,
    });
    return this.afterAuth(challenge.username, out);
  }

  private async afterAuth(username: string, out: any): Promise<Challenge | undefined> {
    if (out.ChallengeName) {
      if (out.ChallengeName !== 'NEW_PASSWORD_REQUIRED' && out.ChallengeName !== 'SOFTWARE_TOKEN_MFA') {
        throw new CognitoError(`sign-in challenge ${out.ChallengeName} is not supported by the console`);
      }
      return { name: out.ChallengeName, username: out.ChallengeParameters?.USER_ID_FOR_SRP ?? username, session: out.Session };
    }
    this.username = username;
    this.idToken = out.AuthenticationResult.IdToken;
    this.refreshToken = out.AuthenticationResult.RefreshToken ?? this.refreshToken;
    await this.fetchCredentials();
    return undefined;
  }

  private async fetchCredentials(): Promise<void> {
    const logins = { [`cognito-idp.${this.config.region}.amazonaws.com/${this.config.userPoolId}`]: this.idToken };
    this.identityId ??= (await this.call('identity', 'GetId', { IdentityPoolId: this.config.identityPoolId, Logins: logins })).IdentityId;
    const { Credentials: c } = await this.call('identity', 'GetCredentialsForIdentity', { IdentityId: this.identityId, Logins: logins });
    this.credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiration: c.Expiration * 1000 };
    this.signer = undefined;
  }

  /** Fresh credentials: refreshed through the refresh token five minutes before they expire. */
  private async fresh(): Promise<Credentials> {
    if (this.credentials && this.credentials.expiration - Date.now() > 5 * 60_000) return this.credentials;
    if (!this.refreshToken) throw new CognitoError('not signed in');
    const out = await this.call('idp', 'InitiateAuth', {
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      ClientId: this.config.userPoolClientId,
      AuthParameters: { REFRESH_TOKEN: this.refreshToken },
    }).catch((err) => {
      this.signOut();
      throw err;
    });
    this.idToken = out.AuthenticationResult.IdToken;
    await this.fetchCredentials();
    return this.credentials!;
  }

  signOut(): void {
    this.idToken = this.refreshToken = this.identityId = this.credentials = this.signer = this.username = undefined;
  }

  /** The headers of `method url` (with `body`) signed with SigV4 for `execute-api`. */
  async sign(method: string, url: URL, headers: Record<string, string>, body?: string): Promise<Record<string, string>> {
    await this.fresh(); // refreshes (or fails: not signed in) before signing
    this.signer ??= new SignatureV4({
      service: 'execute-api',
      region: this.config.region,
      credentials: async () => {
        const c = await this.fresh();
        return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: new Date(c.expiration) };
      },
      sha256: WebSha256,
    });
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prior = query[k];
      query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
    }
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      body,
    });
    // The browser sets Host itself (a forbidden header name for fetch).
    const { host: _host, ...rest } = signed.headers;
    return rest;
  }
}
