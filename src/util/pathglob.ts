/**
 * Path globs as users write them in config files: `*` and `?` within one path component, `**` across components
 * (`usr/share/doc/**`, `**\/.env`). Compiled once to an anchored regular expression.
 */
export function compilePathGlob(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` also matches no directory at all, so `**/.env` matches `.env` at the top.
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i++;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** A registry glob (`registry.example.com/prod/**`): host names are case-insensitive, so the host part is lower-cased on both sides. */
export function compileRegistryGlob(glob: string): RegExp {
  const slash = glob.indexOf('/');
  return compilePathGlob(slash === -1 ? glob.toLowerCase() : glob.slice(0, slash).toLowerCase() + glob.slice(slash));
}
