/**
 * Loaded by vitest before every test file (vitest.config.mts `setupFiles`): the polyfills the local
 * runtime needs on Node 20, and quiet AWS SDK and Powertools output. Its hooks are the file's.
 */
import { afterAll } from 'vitest';
import '../local/polyfills';
import { removeTempDirs } from './helpers/temp-dirs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';

afterAll(removeTempDirs);
