#!/usr/bin/env node
// Builds the native addon (build/Release/bfpo.node) against the libtorch that find-libtorch.mjs locates.
// Offline: it needs only g++, Node's headers and libtorch. Objects are rebuilt only when their inputs change.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { findLibtorch, installAdvice } from './find-libtorch.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// --compile-only: compile every source into a scratch folder and stop before linking (checks that the sources build
// against a libtorch that cannot be linked or loaded here, e.g. LIBTORCH=<an unpacked newer libtorch>).
const compileOnly = process.argv.includes('--compile-only');
const force = process.argv.includes('--force') || compileOnly;
const quiet = process.argv.includes('--quiet');
const log = (...a) => { if (!quiet) console.error('[bfpo build]', ...a); };

function nodeIncludeDir() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  for (const dir of candidates) if (existsSync(join(dir, 'node_api.h'))) return dir;
  throw new Error(`Node's C headers (node_api.h) were not found in ${candidates.join(', ')}.\n` +
    'Install them with your Node.js (Debian: apt-get install libnode-dev, or use an official Node.js build).');
}

function addonApiDir() {
  const require = createRequire(join(root, 'package.json'));
  return dirname(require.resolve('node-addon-api/package.json'));
}

function run(cmd, args) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res(err) : rej(new Error(`${cmd} failed (exit ${code}):\n${err}`))));
  });
}

async function pool(tasks, jobs) {
  const queue = [...tasks];
  const workers = Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    while (queue.length) await queue.shift()();
  });
  await Promise.all(workers);
}

/**
 * Whether libtorch's distributed library (c10d) with the Gloo backend can be compiled in: its headers and Gloo's
 * (Debian ships Gloo's headers apart, in libgloo-dev; PyTorch's own packages include them).
 */
function distributedSupport(lt) {
  if (process.env.BFPO_BUILD_WITHOUT_DIST === '1') return { ok: false, reason: 'left out by BFPO_BUILD_WITHOUT_DIST=1 at build time' };
  const c10d = lt.includeDirs.some((d) => existsSync(join(d, 'torch/csrc/distributed/c10d/ProcessGroupGloo.hpp')));
  const glooDirs = [...lt.includeDirs, '/usr/include', '/usr/local/include'].filter((d) => existsSync(join(d, 'gloo/config.h')));
  if (!c10d) return { ok: false, reason: 'this libtorch has no c10d headers (torch/csrc/distributed/c10d/ProcessGroupGloo.hpp)' };
  if (glooDirs.length === 0) {
    return { ok: false, reason: "Gloo's headers (gloo/config.h) are missing: on Debian/Ubuntu run `sudo apt-get install libgloo-dev`, then `npm run build:native`" };
  }
  return { ok: true, includeDirs: glooDirs.filter((d) => !['/usr/include', '/usr/local/include'].includes(d) && !lt.includeDirs.includes(d)) };
}

async function main() {
  let lt;
  try {
    lt = findLibtorch();
  } catch (err) {
    console.error(`[bfpo build] ${err.message}`);
    process.exit(1);
  }
  const nodeInc = nodeIncludeDir();
  const napiInc = addonApiDir();
  const cxx = process.env.CXX || 'g++';
  const flags = [
    '-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-Wno-deprecated-declarations', '-Wno-unused-parameter',
    `-D_GLIBCXX_USE_CXX11_ABI=${lt.cxx11Abi}`, '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    `-I${nodeInc}`, `-I${napiInc}`,
    // The compiler's own default include dirs must not be re-added with -isystem (it breaks #include_next).
    ...lt.includeDirs.filter((d) => !['/usr/include', '/usr/local/include'].includes(d)).map((d) => `-isystem${d}`),
  ];
  if (lt.cuda) flags.push('-DBFPO_WITH_CUDA=1');
  const dist = distributedSupport(lt);
  if (!dist.ok) log(`multi-process training left out: ${dist.reason}`);
  // Per-file additions: the fused optimizer, log-prob and fused.cc elementwise loops are vectorised (sqrt without errno has the same results;
  // fused.cc keeps every product rounded on its own, as the composed aten ops do, so no multiply-add contraction);
  // dist.cc gets the c10d/Gloo switches when their headers exist, else the reason they are missing.
  // The files whose loops run on libtorch's thread pool (at::parallel_for) are compiled with OpenMP: the loop's
  // parallel region is inlined from libtorch's headers and, without it, runs on one thread.
  const fileFlags = {
    'optim.cc': ['-O3', '-fno-math-errno', '-fopenmp'],
    'bpe.cc': ['-O3'],
    'logprob.cc': ['-O3', '-fno-math-errno', '-fopenmp'],
    'fused.cc': ['-O3', '-fno-math-errno', '-fopenmp', '-ffp-contract=off'],
    'dist.cc': dist.ok ? ['-DBFPO_WITH_GLOO=1', '-DUSE_C10D_GLOO=1', ...dist.includeDirs.map((d) => `-isystem${d}`)]
      : [`-DBFPO_DIST_MISSING=${JSON.stringify(dist.reason)}`],
  };
  // The OpenMP runtime must be libtorch's own, one thread pool for its loops and ours: the copy a PyTorch package
  // or a libtorch zip carries next to its libraries (named by a hash), else the compiler's (Debian's libtorch uses it).
  const bundledOmp = lt.libDirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => /^lib(gomp|iomp5|omp)\b.*\.so[.0-9]*$/.test(f)).map((f) => join(d, f)) : []));
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10', '-ldl', ...(bundledOmp.length > 0 ? [bundledOmp[0]] : ['-fopenmp'])];
  // libtorch_cuda registers the CUDA backend from its static initialisers: it must be linked even though no
  // symbol of ours refers to it, hence --no-as-needed.
  if (lt.cuda) libs.unshift('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  const linkFlags = ['-shared', ...lt.libDirs.flatMap((d) => [`-L${d}`, `-Wl,-rpath,${d}`]), ...libs];

  const srcDir = join(root, 'native');
  const outDir = join(root, 'build');
  const objDir = compileOnly ? join(outDir, `compile-check-${lt.version ?? 'unknown'}`) : join(outDir, 'obj');
  mkdirSync(objDir, { recursive: true });
  mkdirSync(join(outDir, 'Release'), { recursive: true });

  const headers = readdirSync(srcDir).filter((f) => f.endsWith('.h')).map((f) => readFileSync(join(srcDir, f)));
  const headerHash = createHash('sha256').update(Buffer.concat(headers)).update(flags.join(' ')).digest('hex');
  const sources = readdirSync(srcDir).filter((f) => f.endsWith('.cc')).sort();
  log(`libtorch ${lt.version ?? '?'} from ${lt.source}${lt.cuda ? ' (CUDA)' : ''}, C++11 ABI ${lt.cxx11Abi}`);

  const objects = [];
  const tasks = [];
  let rebuilt = 0;
  for (const src of sources) {
    const obj = join(objDir, src.replace(/\.cc$/, '.o'));
    const stamp = `${obj}.hash`;
    const extra = fileFlags[src] ?? [];
    const hash = createHash('sha256').update(headerHash).update(extra.join(' ')).update(readFileSync(join(srcDir, src))).digest('hex');
    objects.push(obj);
    if (!force && existsSync(obj) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) continue;
    rebuilt++;
    tasks.push(async () => {
      const t0 = Date.now();
      await run(cxx, [...flags, ...extra, '-c', join(srcDir, src), '-o', obj]);
      writeFileSync(stamp, hash);
      log(`compiled ${src} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  }
  const jobs = Number(process.env.BFPO_BUILD_JOBS) || availableParallelism();
  await pool(tasks, jobs);
  if (compileOnly) {
    log(`compiled all ${sources.length} sources against libtorch ${lt.version ?? '?'} (${lt.source}); not linked (--compile-only)`);
    return;
  }

  const target = join(outDir, 'Release', 'bfpo.node');
  const infoFile = join(outDir, 'libtorch.json');
  const linkHash = createHash('sha256').update(objects.map((o) => readFileSync(o)).join('')).update(linkFlags.join(' ')).digest('hex');
  const prev = existsSync(infoFile) ? JSON.parse(readFileSync(infoFile, 'utf8')) : {};
  if (rebuilt || force || !existsSync(target) || prev.linkHash !== linkHash) {
    const tmp = `${target}.tmp`;
    await run(cxx, ['-o', tmp, ...objects, ...linkFlags]);
    renameSync(tmp, target);
    log(`linked ${target} (${(statSync(target).size / 1024).toFixed(0)} KiB)`);
  } else {
    log('addon is up to date');
  }
  writeFileSync(infoFile, JSON.stringify({ ...lt, linkHash, builtWith: cxx }, null, 2));
}

main().catch((err) => {
  console.error(`[bfpo build] ${err.message}`);
  console.error(installAdvice());
  process.exit(1);
});
