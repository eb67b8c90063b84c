// Data types and devices: names, native codes, element sizes, and their checks.
import { expected } from '../errors.js';

/** Element types, named as in PyTorch. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8' | 'int16';

/** Order matches the native dtype codes (native/core.cc). */
export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'bool', 'uint8', 'int8', 'int16'];

const SIZES: Record<DType, number> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, bool: 1, uint8: 1, int8: 1, int16: 2,
};

/** Bytes per element. */
export function dtypeSize(dtype: DType): number {
  return SIZES[dtype];
}

/** `dtype` itself when it names a dtype; the native functions take dtypes by name. */
export function checkDtype(dtype: unknown): DType {
  if (typeof dtype === 'string' && (DTYPES as readonly string[]).includes(dtype)) return dtype as DType;
  throw expected(`one of ${DTYPES.join(', ')}`, 'dtype', dtype);
}

export function dtypeCode(dtype: DType): number {
  const code = DTYPES.indexOf(dtype);
  if (code < 0) throw expected(`one of ${DTYPES.join(', ')}`, 'dtype', dtype);
  return code;
}

export function isFloatingDtype(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64';
}

/** A device string: 'cpu', 'cuda' or 'cuda:N'. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export function checkDevice(device: unknown, name = 'device'): Device {
  if (typeof device === 'string' && /^(cpu|cuda(:\d+)?)$/.test(device)) return device as Device;
  throw expected("'cpu', 'cuda' or 'cuda:N'", name, device);
}
