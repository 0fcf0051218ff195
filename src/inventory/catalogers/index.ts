import type { Cataloger } from '../model.js';
import { dpkgCataloger } from './dpkg.js';

/** Every cataloger, in the order they run. Explicit, so adding one is a visible one-line change. */
export const CATALOGERS: readonly Cataloger[] = [dpkgCataloger];
