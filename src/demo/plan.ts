// The demo's sizes and hyper-parameters: the full run (minutes on a 2-core CPU) and the tiny one (the test suite).
// Training settings may be tuned; the evaluation settings follow the BFPO protocol and are the same for every model.

/** Everything that sizes one demo run. */
export interface DemoPlan {
  /** Share of the world kept (1 = all of it). */
  worldScale: number;
  vocabSize: number;
  model: { hiddenSize: number; intermediateSize: number; numHiddenLayers: number; numAttentionHeads: number; maxPositionEmbeddings: number };
  sft: { epochs: number; batchSize: number; learningRate: number };
  preference: { epochs: number; batchSize: number; learningRate: number; beta: number };
  eval: { maxNewTokens: number; batchSize: number; limit?: number };
}

/** The full demo: a 0.4M-parameter Llama, SFT for 16 epochs, then one epoch of each preference method. */
export const FULL_PLAN: DemoPlan = {
  worldScale: 1,
  vocabSize: 1536,
  model: { hiddenSize: 96, intermediateSize: 288, numHiddenLayers: 2, numAttentionHeads: 4, maxPositionEmbeddings: 256 },
  sft: { epochs: 16, batchSize: 16, learningRate: 3e-3 },
  preference: { epochs: 1, batchSize: 16, learningRate: 5e-4, beta: 0.1 },
  eval: { maxNewTokens: 48, batchSize: 64 },
};

/** A run of seconds that exercises every phase (its numbers mean nothing). */
export const TINY_PLAN: DemoPlan = {
  worldScale: 0.04,
  vocabSize: 300,
  model: { hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, maxPositionEmbeddings: 128 },
  sft: { epochs: 1, batchSize: 16, learningRate: 1e-2 },
  preference: { epochs: 1, batchSize: 16, learningRate: 5e-4, beta: 0.1 },
  eval: { maxNewTokens: 8, batchSize: 16, limit: 4 },
};
