// Writes the package.json and package-lock.json of an app that depends only on a packed bfpo tarball, with bfpo's
// runtime dependencies pinned to the versions and integrity hashes of bfpo's own lockfile, so `npm ci --offline`
// installs the tarball from npm's cache without asking the registry.
// Usage: node scripts/pack-check-lock.mjs BFPO.tgz APP_DIR
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const [tgz, app] = process.argv.slice(2);
const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8'));
const file = `file:${basename(tgz)}`;
const packages = {
  '': { name: 'bfpo-pack-check', dependencies: { bfpo: file } },
  'node_modules/bfpo': {
    version: pkg.version, resolved: file, integrity: `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`,
    hasInstallScript: true, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
  },
};
for (const [path, entry] of Object.entries(lock.packages)) {
  if (path === '' || entry.dev || entry.devOptional || entry.link) continue;
  const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const short = name.startsWith('@') ? name.split('/')[1] : name;
  packages[path] = { ...entry, resolved: entry.resolved ?? `https://registry.npmjs.org/${name}/-/${short}-${entry.version}.tgz` };
}
writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'bfpo-pack-check', private: true, dependencies: { bfpo: file } }, null, 2)}\n`);
writeFileSync(join(app, 'package-lock.json'), `${JSON.stringify({ name: 'bfpo-pack-check', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
