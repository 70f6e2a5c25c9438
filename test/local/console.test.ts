/** The web console is served by the local mode at `/` and `/ui/*`, beside an API that keeps its 404/405. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;

beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(async () => {
  await t.close();
});

describe('web console (local mode)', () => {
  it('serves the page, its bundle (with the graph layout) and its config', async () => {
    // Act
    const [page, app, css, config] = await Promise.all([t.api('GET', '/'), t.api('GET', '/ui/app.js'), t.api('GET', '/ui/style.css'), t.api('GET', '/ui/config.js')]);
    // Assess
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('<script type="module" src="/ui/app.js">');
    expect(app.status).toBe(200);
    expect(app.headers.get('content-type')).toMatch(/javascript/);
    expect(app.text).toContain('/api/process_definitions');
    expect(app.text.length).toBeGreaterThan(20_000); // dagre is bundled in
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(config.text).toBe('window.SUNDIAL_API = "";\n');
  });

  it('answers 404 for unknown console files and 405 for other methods, and leaves the API alone', async () => {
    expect((await t.api('GET', '/ui/nope.js')).status).toBe(404);
    expect((await t.api('POST', '/')).status).toBe(405);
    const api = await t.api('GET', '/api/nothing-here');
    expect(api.status).toBe(404);
    expect(api.json.error.code).toBe('not_found');
  });
});
