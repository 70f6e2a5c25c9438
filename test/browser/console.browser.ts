/**
 * The web console in a real browser (Debian's Chromium, driven by playwright-core) against the local
 * mode: definitions created through the API, runs triggered and killed from the console. Screenshots
 * go to test-results/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConsole, consoleConfig } from '../../web/build';
import { hold, release, waitWhileHeld } from '../helpers/hold';
import { dependsOn, type JsonObject, shellScript, shellTask, UNTIL_STOPPED } from '../helpers/local';
import { browserPerFile } from './support';

const SHOTS = 'test-results';

const session = browserPerFile();
beforeAll(() => {
  mkdirSync(SHOTS, { recursive: true });
});

const define = (name: string, tasks: JsonObject[], extra: JsonObject = {}) => session.t.define(name, { task_definitions: tasks, ...extra });

describe('web console', () => {
  it('triggers a run from the console and shows its DAG turn green', async () => {
    const { t, page } = session;
    // Prepare: a diamond with one optional dependency, created through the API
    await define(
      'browser-diamond',
      [
        shellTask('extract', { executable: { shell_script_command: { script: 'echo hello from extract; sleep 0.5' } } }),
        shellTask('clean', { dependencies: [dependsOn('extract')] }),
        shellTask('audit', { dependencies: [dependsOn('extract', false)], executable: { shell_script_command: { script: 'echo audited >&2' } } }),
        shellTask('load', { dependencies: [dependsOn('clean'), dependsOn('audit')] }),
      ],
      { process_description: 'a diamond', schedule: { cron_schedule: { minutes: '0', hours: '2', day_of_month: '?', month: '*', day_of_week: '*' } } },
    );

    // Act: from the list of definitions to the definition, then Trigger
    await page.goto(`${t.url}/`);
    await page.locator('[data-testid="definitions"] tr[data-name="browser-diamond"] a').click();
    await page.locator('button[data-action="trigger"]').click();
    await page.waitForURL(/#\/run\//);

    // Assess: every node turns green; the optional dependency is dashed; output is shown
    const dag = page.locator('[data-testid="dag"]');
    await dag.locator('[data-node="load"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    for (const name of ['extract', 'clean', 'audit', 'load']) {
      expect(await dag.locator(`[data-node="${name}"]`).getAttribute('data-status')).toBe('succeeded');
    }
    expect(await dag.locator('path.edge').count()).toBe(4);
    expect(await dag.locator('path.edge.optional').getAttribute('data-edge')).toBe('extract->audit');
    await page.locator('h1 .pill[data-status="succeeded"]').waitFor();
    await expect.poll(() => page.locator('[data-task="extract"] [data-testid="output"]').textContent()).toContain('hello from extract');
    expect(await page.locator('[data-task="audit"] [data-testid="output"] .stderr').textContent()).toBe('audited');
    expect(await page.locator('#timeline .bar').count()).toBe(4);
    await page.screenshot({ path: `${SHOTS}/run-succeeded.png`, fullPage: true });

    // and the definitions page shows the run as a green square
    await page.goto(`${t.url}/#/`);
    await page.locator('tr[data-name="browser-diamond"] .sq.succeeded').waitFor();
    await page.screenshot({ path: `${SHOTS}/definitions.png`, fullPage: true });
  });

  it('kills a long run from its page', async () => {
    const { t, page } = session;
    // Prepare
    await define('browser-long', [shellScript('forever', `echo started; ${UNTIL_STOPPED}`)]);
    await page.goto(`${t.url}/#/def/browser-long`);
    await page.locator('button[data-action="trigger"]').click();
    await page.waitForURL(/#\/run\//);
    await page.locator('[data-testid="dag"] [data-node="forever"][data-status="running"]').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: `${SHOTS}/run-running.png`, fullPage: true });

    // Act
    await page.locator('button[data-action="kill"]').click();

    // Assess
    await page.locator('h1 .pill[data-status="failed"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="dag"] [data-node="forever"][data-status="failed"]').waitFor();
    expect(await page.locator('main').textContent()).toContain('killed by operator');
    expect(await page.locator('button[data-action="retry"]').count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/run-killed.png`, fullPage: true });
  });

  it("shows a running task's reported progress on its DAG node and its attempt", async () => {
    const { t, page } = session;
    // Prepare: a task that reports 40 % and runs until the test has seen it
    const holdFifo = join(t.dataDir, 'browser-progress-hold');
    hold(holdFifo);
    const script = [
      `curl -sf -o /dev/null -X POST "$SUNDIAL_URL/api/tasks/$SUNDIAL_TASK_ID/progress" -H "Authorization: Bearer $SUNDIAL_TASK_TOKEN" -H 'content-type: application/json' -d '{"percent": 40, "message": "copying partition 2 of 5"}' || exit 9`,
      waitWhileHeld(holdFifo),
    ].join('\n');
    await define('browser-progress', [shellTask('copy', { executable: { shell_script_command: { script } } })]);
    const run = (await t.api('POST', '/api/process_definitions/browser-progress/trigger')).json;

    // Act
    await page.goto(`${t.url}/#/run/${run.process_id}`);

    // Assess: the node's bar (40 % of its width) and text, refreshed in by the running page; the attempt's line
    const bar = page.locator('[data-testid="dag"] [data-node="copy"][data-status="running"] [data-testid="progress"]');
    await bar.waitFor({ timeout: 30_000 });
    expect(await bar.getAttribute('data-percent')).toBe('40');
    expect(Number(await bar.getAttribute('width'))).toBe(170 * 0.4);
    expect(await page.locator('[data-node="copy"]').textContent()).toContain('40% · copying partition…');
    expect(await page.locator('[data-task="copy"] [data-testid="progress"]').textContent()).toBe('40% · copying partition 2 of 5');
    await page.screenshot({ path: `${SHOTS}/run-progress.png`, fullPage: true });
    // Released once seen (were it not, closing the server in afterAll stops the task)
    await release(holdFifo);
    // Once it ended, the node shows its state, not the progress
    await page.locator('[data-testid="dag"] [data-node="copy"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-node="copy"] [data-testid="progress"]').count()).toBe(0);
  });

  it('pauses and resumes a definition', async () => {
    const { t, page } = session;
    await page.goto(`${t.url}/#/def/browser-diamond`);
    await page.locator('button[data-action="pause"]').click();
    await page.locator('button[data-action="resume"]').waitFor();
    expect((await t.api('GET', '/api/process_definitions/browser-diamond')).json.paused).toBe(true);
    await page.locator('button[data-action="resume"]').click();
    await page.locator('button[data-action="pause"]').waitFor();
    expect((await t.api('GET', '/api/process_definitions/browser-diamond')).json.paused).toBe(false);
  });
});

describe('web console, deployed mode (Cognito and the API mocked at the network layer)', () => {
  it('signs in through the user pool and identity pool, then signs every API call with SigV4', async () => {
    const { browser } = session;
    // Prepare: the built files served from a CloudFront-like origin, config.js with the Cognito ids
    const files = await buildConsole();
    const API = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
    const config = consoleConfig(API, { region: 'eu-west-1', userPoolId: 'eu-west-1_pool', userPoolClientId: 'client1', identityPoolId: 'eu-west-1:pool-id' });
    const cognito: Array<{ target: string; body: any }> = [];
    const apiCalls: Array<Record<string, string>> = [];
    const context = await browser.newContext();
    const deployed = await context.newPage();
    const cors = { 'access-control-allow-origin': 'https://console.test', 'access-control-allow-headers': '*', 'access-control-allow-methods': '*' };
    await deployed.route('https://console.test/**', (route) => {
      const path = new URL(route.request().url()).pathname;
      const body = path === '/' ? files['index.html'] : path === '/ui/app.js' ? files['app.js'] : path === '/ui/style.css' ? files['style.css'] : path === '/ui/config.js' ? config : undefined;
      const type = path === '/' ? 'text/html' : path.endsWith('.css') ? 'text/css' : 'text/javascript';
      return body === undefined ? route.fulfill({ status: 404 }) : route.fulfill({ status: 200, contentType: type, body });
    });
    await deployed.route(/https:\/\/cognito-(idp|identity)\.eu-west-1\.amazonaws\.com\//, (route) => {
      if (route.request().method() === 'OPTIONS') return route.fulfill({ status: 200, headers: cors });
      const target = route.request().headers()['x-amz-target'] ?? '';
      const body = route.request().postDataJSON();
      cognito.push({ target, body });
      const answer: Record<string, unknown> = {
        'AWSCognitoIdentityProviderService.InitiateAuth': { ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 'sess-1', ChallengeParameters: {} },
        'AWSCognitoIdentityProviderService.RespondToAuthChallenge': { AuthenticationResult: { IdToken: 'id-token', RefreshToken: 'refresh-token' } },
        'AWSCognitoIdentityService.GetId': { IdentityId: 'eu-west-1:identity-1' },
        'AWSCognitoIdentityService.GetCredentialsForIdentity': {
          IdentityId: 'eu-west-1:identity-1',
          Credentials: { AccessKeyId: 'ASIATEST', SecretKey: 'secret', SessionToken: 'session-token', Expiration: Date.now() / 1000 + 3600 },
        },
      };
      return route.fulfill({ status: 200, contentType: 'application/x-amz-json-1.1', headers: cors, body: JSON.stringify(answer[target] ?? {}) });
    });
    await deployed.route(`${API}/**`, (route) => {
      if (route.request().method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
      apiCalls.push(route.request().headers());
      const url = new URL(route.request().url());
      const body = url.pathname === '/api/process_definitions' ? [{ process_definition_name: 'deployed-def', task_definitions: [], paused: false }] : [];
      return route.fulfill({ status: 200, contentType: 'application/json', headers: cors, body: JSON.stringify(body) });
    });

    try {
      // Act: sign in, answer the first-sign-in challenge with a new password
      await deployed.goto('https://console.test/');
      await deployed.locator('[data-testid="signin"] input[name="username"]').fill('alice');
      await deployed.locator('[data-testid="signin"] input[name="password"]').fill('Temporary-Passw0rd!');
      await deployed.locator('[data-testid="signin"] button').click();
      await deployed.locator('[data-testid="signin"] input[name="value"]').fill('A-new-Passw0rd-of-14!');
      await deployed.locator('[data-testid="signin"] button').click();

      // Assess: the definitions page, from API calls signed with the identity pool's credentials
      await deployed.locator('[data-testid="definitions"] tr[data-name="deployed-def"]').waitFor();
      expect(cognito.map((c) => c.target.split('.')[1])).toEqual(['InitiateAuth', 'RespondToAuthChallenge', 'GetId', 'GetCredentialsForIdentity']);
      expect(cognito[0]?.body).toEqual({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'client1', AuthParameters: { USERNAME: 'alice', PASSWORD: 'Temporary-Passw0rd!' } });
      expect(cognito[1]?.body.ChallengeResponses).toEqual({ USERNAME: 'alice', NEW_PASSWORD: 'A-new-Passw0rd-of-14!' });
      expect(cognito[2]?.body).toEqual({ IdentityPoolId: 'eu-west-1:pool-id', Logins: { 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool': 'id-token' } });
      expect(apiCalls.length).toBeGreaterThanOrEqual(2);
      for (const headers of apiCalls) {
        expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIATEST\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
        expect(headers['x-amz-security-token']).toBe('session-token');
      }
      expect(await deployed.locator('#api-url').textContent()).toContain('alice');
      await deployed.screenshot({ path: `${SHOTS}/deployed-signed-in.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });
});
