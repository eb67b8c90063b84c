// The tensor layer's public surface. Importing it does not load libtorch: the addon loads at the first tensor op.
export { Tensor, type Scalar, type TensorLike, type NestedArray } from './tensor.js';
export { type DType, type Device, DTYPES, dtypeSize, isFloatingDtype } from './dtype.js';
export { TorchError } from './errors.js';
export {
  tensor, fromBuffer, empty, zeros, ones, full, arange, randn, rand, randint,
  zerosLike, onesLike, emptyLike, randnLike, randLike, type CreateOptions,
} from './creation.js';
export {
  cat, stack, where, matmul, bmm, softmax, logSoftmax, allclose, equal,
  linear, embedding, dropout, rmsNorm, swiglu, crossEntropy, tokenLogProbs, applyRotaryEmbedding, scaledDotProductAttention,
  attentionInParts, type AttentionSpan, type AttentionKernel,
} from './functional.js';
export { noGrad, enableGrad, isGradEnabled, inferenceMode, isInferenceMode, clipGradNorm_, clipGradNormTensor_, gradNormTensor, clipCoefficient } from './autograd.js';
export { tidy, keep, scope } from './scope.js';
export { profileOps, selfTimes, type OpTime } from './profile.js';
export {
  setNumThreads, getNumThreads, manualSeed, getRngState, setRngState, cuda, fastPaths, memoryStats, releaseFreeHostMemory, hostAllocator, kernelThreads, buildInfo, detectBlas,
} from './runtime.js';
export { type DeviceSetting, DEVICE_SETTING_PATTERN, CudaUnavailableError, checkDeviceSetting, resolveDevice } from './device.js';
