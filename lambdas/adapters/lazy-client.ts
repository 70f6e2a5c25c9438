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

/**
 * `make()` once, its promise shared by every call; a failure is not kept (the next call makes it again),
 * so that a cold start that met a throttled or failing dependency does not fail for ever.
 */
export function onceUntilFailure<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (!pending) {
      const attempt = make();
      attempt.catch(() => {
        if (pending === attempt) pending = undefined;
      });
      pending = attempt;
    }
    return pending;
  };
}

/** A function that loads `load()` and builds the client once, on its first call. */
export function lazyClient<Sdk, Client>(
  load: () => Promise<Sdk>,
  build: (sdk: Sdk) => Client,
  given?: Client,
): () => Promise<Loaded<Sdk, Client>> {
  return onceUntilFailure(() => load().then((sdk) => ({ sdk, client: given ?? build(sdk) })));
}
