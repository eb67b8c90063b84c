// bfpo: Bi-Factorial Preference Optimization and the DPO family on libtorch, from Node.js.
export * from './tensor/index.js';
export * from './optim/index.js';
export * from './nn/index.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './losses/index.js';
export * from './io/index.js';
export * from './train/index.js';
export * from './eval/index.js';
export * from './recipe/index.js';
export * from './demo/index.js';
