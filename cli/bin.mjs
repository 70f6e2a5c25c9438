#!/usr/bin/env node
// The `sundial` npm bin: runs the TypeScript CLI through tsx (a dependency), so nothing needs building.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
await import('./sundial.ts');
