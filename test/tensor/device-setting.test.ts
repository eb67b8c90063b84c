// Device settings (auto | cpu | cuda | cuda:N): their form, how auto resolves, and the errors that say why CUDA
// cannot be used and how to fix it (checked with stand-in CUDA probes, so they run on any machine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { CudaUnavailableError, checkDeviceSetting, cuda, resolveDevice } from '../../src/tensor/index.js';

const cpuBuild = { built: false, deviceCount: 0 };
const noGpu = { built: true, deviceCount: 0 };
const twoGpus = { built: true, deviceCount: 2 };

test('device settings: auto, cpu, cuda and cuda:N are accepted, anything else names the allowed values', () => {
  for (const d of ['auto', 'cpu', 'cuda', 'cuda:0', 'cuda:12']) assert.equal(checkDeviceSetting(d), d);
  for (const bad of ['gpu', 'CUDA', 'cuda:', 'cuda:x', 'cpu:0', '', 3, null]) {
    assert.throws(() => checkDeviceSetting(bad, '--device'), (e: unknown) => e instanceof ArgumentError &&
      e.message.startsWith('Expected one of auto, cpu, cuda, cuda:N (N a device index) for --device but received'));
  }
});

test('auto picks the first CUDA device only when the libtorch has CUDA and a device is visible', () => {
  assert.equal(resolveDevice('auto', 'device', cpuBuild), 'cpu');
  assert.equal(resolveDevice('auto', 'device', noGpu), 'cpu');
  assert.equal(resolveDevice('auto', 'device', twoGpus), 'cuda:0');
  assert.equal(resolveDevice('cpu', 'device', twoGpus), 'cpu');
  assert.equal(resolveDevice('cuda', 'device', twoGpus), 'cuda:0');
  assert.equal(resolveDevice('cuda:1', 'device', twoGpus), 'cuda:1');
});

test('cuda on a CPU-only libtorch says so and how to rebuild against a CUDA PyTorch', () => {
  assert.throws(() => resolveDevice('cuda', '--device', cpuBuild), (e: unknown) => e instanceof CudaUnavailableError &&
    /--device is cuda, but this bfpo addon was built against a libtorch without CUDA/.test(e.message) &&
    e.message.includes('LIBTORCH_USE_PYTORCH=1 npm rebuild bfpo') && e.message.includes('docs/gpu.md') &&
    e.message.includes('Or set --device to cpu or auto'));
});

test('cuda with CUDA in libtorch but no visible device says so and what to check', () => {
  const saved = process.env.CUDA_VISIBLE_DEVICES;
  process.env.CUDA_VISIBLE_DEVICES = '';
  try {
    assert.throws(() => resolveDevice('cuda:0', 'device', noGpu), (e: unknown) => e instanceof CudaUnavailableError &&
      e.message.startsWith('device is cuda:0, but no CUDA device is visible to this process although libtorch has CUDA (CUDA_VISIBLE_DEVICES="")') &&
      e.message.includes('nvidia-smi') && e.message.includes('docs/gpu.md'));
  } finally {
    if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
    else process.env.CUDA_VISIBLE_DEVICES = saved;
  }
});

test('an index past the last device names the visible ones', () => {
  assert.throws(() => resolveDevice('cuda:2', 'device', twoGpus), (e: unknown) => e instanceof CudaUnavailableError &&
    e.message === 'device is cuda:2, but only 2 CUDA devices are visible (cuda:0 to cuda:1); choose one of them or set device to cuda or auto.');
  assert.throws(() => resolveDevice('cuda:1', 'device', { built: true, deviceCount: 1 }), /only 1 CUDA device is visible \(cuda:0\)/);
});

test('this machine: the real probe agrees with the cuda queries', () => {
  const usable = cuda.isBuilt() && cuda.isAvailable();
  assert.equal(resolveDevice('auto'), usable ? 'cuda:0' : 'cpu');
  if (!usable) assert.throws(() => resolveDevice('cuda'), CudaUnavailableError);
  assert.equal(cuda.isAvailable() && !cuda.isBuilt(), false, 'a device is never available without CUDA in the build');
});
