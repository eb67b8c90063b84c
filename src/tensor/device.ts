// The device a run asks for (`device: auto | cpu | cuda | cuda:N`) resolved against this libtorch and machine,
// with an error that says why CUDA cannot be used and how to fix it.
import { BfpoError, expected } from '../errors.js';
import type { Device } from './dtype.js';
import { cuda } from './runtime.js';

/** A device setting: `auto` (CUDA when this libtorch has it and a device is visible, else the CPU) or a device. */
export type DeviceSetting = 'auto' | Device;

/** The form of a device setting, as a regular expression source (recipe schema and checks share it). */
export const DEVICE_SETTING_PATTERN = '^(auto|cpu|cuda(:[0-9]+)?)$';

/** Raised when a run asks for a CUDA device this libtorch or this machine cannot give. */
export class CudaUnavailableError extends BfpoError {}

/** `value` when it is a device setting; else an ArgumentError naming `name` and the allowed values. */
export function checkDeviceSetting(value: unknown, name = 'device'): DeviceSetting {
  if (typeof value === 'string' && new RegExp(DEVICE_SETTING_PATTERN).test(value)) return value as DeviceSetting;
  throw expected("one of auto, cpu, cuda, cuda:N (N a device index)", name, value);
}

/** What the resolution needs to know about CUDA (the real answers by default; tests pass their own). */
export interface CudaProbe {
  /** The addon is linked against libtorch's CUDA libraries. */
  built: boolean;
  /** CUDA devices visible to this process. */
  deviceCount: number;
}

function probeCuda(): CudaProbe {
  return { built: cuda.isBuilt(), deviceCount: cuda.isAvailable() ? cuda.deviceCount() : 0 };
}

/**
 * The device of a setting: `auto` gives `cuda:0` when CUDA is usable and `cpu` otherwise; `cuda` gives `cuda:0`.
 * Asking for CUDA where it cannot be used throws a CudaUnavailableError that says why (no CUDA in this libtorch,
 * no device visible, or an index past the last device) and how to fix it. `name` names the setting in messages.
 * @example const device = resolveDevice(settings.device, 'device'); // 'cpu' on a machine without a GPU
 */
export function resolveDevice(setting: DeviceSetting, name = 'device', probe: CudaProbe = probeCuda()): Device {
  const s = checkDeviceSetting(setting, name);
  if (s === 'cpu') return 'cpu';
  if (s === 'auto') return probe.built && probe.deviceCount > 0 ? 'cuda:0' : 'cpu';
  const index = s === 'cuda' ? 0 : Number(s.slice(5));
  if (!probe.built) {
    throw new CudaUnavailableError(
      `${name} is ${s}, but this bfpo addon was built against a libtorch without CUDA (a CPU-only build, such as ` +
        "Debian's libtorch package). To train on a GPU, install a CUDA build of PyTorch (pip install torch) and rebuild " +
        'the addon against it with `LIBTORCH_USE_PYTORCH=1 npm rebuild bfpo` (docs/install.md, docs/gpu.md); ' +
        `\`bfpo env\` shows what the addon was built with. Or set ${name} to cpu or auto.`,
    );
  }
  if (probe.deviceCount === 0) {
    const visible = process.env.CUDA_VISIBLE_DEVICES;
    throw new CudaUnavailableError(
      `${name} is ${s}, but no CUDA device is visible to this process although libtorch has CUDA` +
        `${visible !== undefined ? ` (CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)})` : ''}. Check that \`nvidia-smi\` lists ` +
        'a GPU, that the NVIDIA driver is new enough for this PyTorch\'s CUDA version, and that CUDA_VISIBLE_DEVICES ' +
        `does not hide it (docs/gpu.md). Or set ${name} to cpu or auto.`,
    );
  }
  if (index >= probe.deviceCount) {
    throw new CudaUnavailableError(
      `${name} is ${s}, but only ${probe.deviceCount} CUDA device${probe.deviceCount === 1 ? ' is' : 's are'} visible ` +
        `(cuda:0${probe.deviceCount > 1 ? ` to cuda:${probe.deviceCount - 1}` : ''}); choose one of them or set ${name} to cuda or auto.`,
    );
  }
  return `cuda:${index}`;
}
