// Why the CUDA tests cannot run here (false when a CUDA device is usable): shown as the skip reason.
import { buildInfo, cuda } from '../../src/index.js';

export const noCudaReason: string | false = !cuda.isBuilt()
  ? `this addon was built against a libtorch without CUDA (libtorch ${buildInfo().torchVersion}); see docs/gpu.md`
  : !cuda.isAvailable() ? 'libtorch has CUDA but no CUDA device is visible' : false;
