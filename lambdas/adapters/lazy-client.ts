/**
 * What the AWS adapters share: their SDK client package is imported, and their client built, at first
 * use. The SDK is the Lambda runtime's (not bundled, lib/sundial-function.ts), and loading one client
 * package costs tens of milliseconds; a function that never calls a service (the callbacks function and
 * Batch, say) does not pay for it at cold start. Node caches the `import()` itself, so every adapter
 * instance of a service shares one loaded package.
 */

/** An SDK package with its client: `given` (tests), or one `build` makes from the environment. */
export interface Loaded<Sdk, Client> {
  sdk: Sdk;
  client: Client;
}

/** A function that loads `load()` and builds the client once, on its first call. */
export function lazyClient<Sdk, Client>(
  load: () => Promise<Sdk>,
  build: (sdk: Sdk) => Client,
  given?: Client,
): () => Promise<Loaded<Sdk, Client>> {
  let loaded: Promise<Loaded<Sdk, Client>> | undefined;
  return () => {
    loaded ??= load().then((sdk) => ({ sdk, client: given ?? build(sdk) }));
    // A failed import is not kept: the next call tries again.
    loaded.catch(() => {
      loaded = undefined;
    });
    return loaded;
  };
}
