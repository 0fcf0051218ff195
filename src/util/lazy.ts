import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A module loaded on first use. yaml and better-sqlite3 cost ~110 ms of start-up between them and
 * most images need neither (they read pnpm/yarn lockfiles and rpm databases only).
 */
export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  return () => {
    mod ??= require(id) as T;
    return mod;
  };
}
