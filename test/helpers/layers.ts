import tarStream from 'tar-stream';

/** An entry of a hand-made layer: a file with content, a directory, a link, or a whiteout marker. */
export type LayerEntry =
  | { readonly path: string; readonly content: string | Buffer; readonly mode?: number }
  | { readonly path: string; readonly dir: true }
  | { readonly path: string; readonly symlink: string }
  | { readonly path: string; readonly hardlink: string };

/** Pack entries into a tar with tar-stream (an independent writer), for hostile and edge-case layers. */
export async function makeTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const p = tarStream.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if ('content' in e) {
      const data = typeof e.content === 'string' ? Buffer.from(e.content) : e.content;
      p.entry({ name: e.path, size: data.length, mode: e.mode ?? 0o644 }, data);
    } else if ('dir' in e) p.entry({ name: e.path, type: 'directory', mode: 0o755 });
    else if ('symlink' in e) p.entry({ name: e.path, type: 'symlink', linkname: e.symlink });
    else p.entry({ name: e.path, type: 'link', linkname: e.hardlink });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
