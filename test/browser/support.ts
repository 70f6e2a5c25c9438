/**
 * What every browser test file starts with: a local Sundial, and Debian's Chromium (CHROMIUM_PATH, else
 * /usr/bin/chromium) driven by playwright-core with one page whose script errors are logged.
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { startTestSundial, type TestSundial } from '../helpers/local';
import { perFile } from '../helpers/per-file';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface BrowserSession {
  t: TestSundial;
  browser: Browser;
  page: Page;
}

interface OpenSession extends BrowserSession {
  /** Closes the browser, then stops Sundial and removes its data dir. */
  close(): Promise<void>;
}

/**
 * One session for a test file, as `sundialPerFile` gives a Sundial: started in `beforeAll`, closed in
 * `afterAll`; its fields are the running session's, read in tests.
 */
export function browserPerFile(): BrowserSession {
  const current = perFile('browserPerFile', start);
  return {
    get t() {
      return current().t;
    },
    get browser() {
      return current().browser;
    },
    get page() {
      return current().page;
    },
  };
}

async function start(): Promise<OpenSession> {
  const t = await startTestSundial();
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await t.close();
  };
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    return { t, browser, page, close };
  } catch (e) {
    await close(); // nothing else would: the file's afterAll has no session
    throw e;
  }
}
