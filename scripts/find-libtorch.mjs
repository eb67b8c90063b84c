// Locates a libtorch installation for the native addon build.
// Order: LIBTORCH folder, a PyTorch Python package (LIBTORCH_USE_PYTORCH=1), then the system package.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * @typedef {{ source: string, includeDirs: string[], libDirs: string[], cxx11Abi: 0|1, cuda: boolean,
 *   version: string | null }} Libtorch
 */

/** Advice printed when nothing is found or the addon cannot load. */
export function installAdvice() {
  const lines = [
    'bfpo needs libtorch (PyTorch\'s C++ library). Any one of these works:',
    '  * Debian/Ubuntu (CPU):   sudo apt-get install libtorch-dev libopenblas0-pthread',
    '  * a PyTorch Python package already installed (CPU or CUDA):',
    '        LIBTORCH_USE_PYTORCH=1 npm rebuild bfpo     (uses `python3 -c "import torch"`; set PYTHON to choose the interpreter)',
    '  * an unpacked libtorch zip from pytorch.org (CPU or CUDA):',
    '        LIBTORCH=/path/to/libtorch npm rebuild bfpo',
    'See docs/install.md for details and for diagnosing a failed load.',
  ];
  return lines.join('\n');
}

function readAbiFromCmake(dir) {
  for (const rel of ['share/cmake/Torch/TorchConfig.cmake', 'lib/cmake/Torch/TorchConfig.cmake',
    'lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake', 'lib/aarch64-linux-gnu/cmake/Torch/TorchConfig.cmake']) {
    const file = join(dir, rel);
    if (!existsSync(file)) continue;
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readFileSync(file, 'utf8'));
    if (m) return Number(m[1]);
  }
  return null;
}

function readVersion(includeDir) {
  const file = join(includeDir, 'torch/csrc/api/include/torch/version.h');
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const part = (k) => (new RegExp(`#define TORCH_VERSION_${k} (\\d+)`).exec(text) || [])[1];
  return part('MAJOR') ? `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}` : null;
}

function hasCudaLib(libDirs) {
  return libDirs.some((d) => existsSync(d) && readdirSync(d).some((f) => /^libtorch_cuda\.so/.test(f)));
}

function fromFolder(dir, source) {
  const include = join(dir, 'include');
  const lib = join(dir, 'lib');
  if (!existsSync(join(include, 'ATen/ATen.h')) || !existsSync(lib)) {
    throw new Error(`${source} points at ${dir}, which has no include/ATen/ATen.h and lib/ folder of a libtorch`);
  }
  const abi = readAbiFromCmake(dir) ?? 1;
  const libDirs = [lib];
  return {
    source, includeDirs: [include, join(include, 'torch/csrc/api/include')], libDirs,
    cxx11Abi: abi, cuda: hasCudaLib(libDirs), version: readVersion(include),
  };
}

function fromPython() {
  const python = process.env.PYTHON || 'python3';
  // torch.utils.cpp_extension knows the include and library folders; when it cannot be imported (it wants a
  // compiler toolchain setup on some systems) the folders are derived from the package's own layout.
  const code = [
    'import json, os, torch',
    'root = os.path.dirname(torch.__file__)',
    'try:',
    '    import torch.utils.cpp_extension as c',
    '    inc, lib = c.include_paths(), c.library_paths()',
    'except Exception:',
    '    inc = [os.path.join(root, "include"), os.path.join(root, "include", "torch", "csrc", "api", "include")]',
    '    lib = [os.path.join(root, "lib")]',
    'print(json.dumps({"include": inc, "lib": lib, "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI),',
    ' "version": torch.__version__, "root": root, "cuda": torch.version.cuda}))',
  ].join('\n');
  let out;
  try {
    out = execFileSync(python, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`LIBTORCH_USE_PYTORCH=1 but \`${python} -c "import torch"\` failed: ${String(err.stderr || err.message).trim()}`);
  }
  const info = JSON.parse(out.trim().split('\n').pop());
  const includeDirs = info.include.filter((d) => existsSync(d));
  if (!includeDirs.some((d) => existsSync(join(d, 'ATen/ATen.h')))) {
    throw new Error(`PyTorch ${info.version} at ${info.root} has no C++ headers (include/ATen/ATen.h); install a full PyTorch wheel, not a headerless build`);
  }
  const libDirs = info.lib.filter((d) => existsSync(d));
  return {
    // The version without its local tag (2.5.1+cu124 -> 2.5.1), as the other sources report it.
    source: `PyTorch ${info.version}${info.cuda ? ` (CUDA ${info.cuda})` : ''} (${python})`, includeDirs, libDirs,
    cxx11Abi: info.abi, cuda: hasCudaLib(libDirs), version: String(info.version).split('+')[0],
  };
}

function fromSystem() {
  const multiarch = ['x86_64-linux-gnu', 'aarch64-linux-gnu'];
  for (const prefix of ['/usr', '/usr/local']) {
    if (!existsSync(join(prefix, 'include/ATen/ATen.h'))) continue;
    const libDirs = [join(prefix, 'lib'), ...multiarch.map((m) => join(prefix, 'lib', m))]
      .filter((d) => existsSync(join(d, 'libtorch_cpu.so')) || existsSync(join(d, 'libtorch.so')));
    if (libDirs.length === 0) continue;
    const abi = readAbiFromCmake(prefix) ?? 1;
    return {
      source: `system libtorch in ${prefix}`,
      includeDirs: [join(prefix, 'include'), join(prefix, 'include/torch/csrc/api/include')],
      libDirs, cxx11Abi: abi, cuda: hasCudaLib(libDirs), version: readVersion(join(prefix, 'include')),
    };
  }
  return null;
}

/** @returns {Libtorch} */
export function findLibtorch(env = process.env) {
  if (env.LIBTORCH) return fromFolder(env.LIBTORCH, 'LIBTORCH');
  if (env.LIBTORCH_USE_PYTORCH === '1') return fromPython();
  const sys = fromSystem();
  if (sys) return sys;
  throw new Error(`No libtorch found (looked at $LIBTORCH, $LIBTORCH_USE_PYTORCH, /usr and /usr/local).\n${installAdvice()}`);
}
