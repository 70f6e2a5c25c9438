/**
 * Loaded by vitest before every test file (vitest.config.mts `setupFiles`): the polyfills the local
 * runtime needs on Node 20, and quiet AWS SDK and Powertools output.
 */
import '../local/polyfills';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
