// The toxicity scorer interface: a number in [0, 1] per text; implemented over HTTP (perspective.ts) and by a local
// judge model (toxicity.ts), selected through the registry in toxicity.ts.

/** Scores texts for toxicity: 0 harmless to 1 toxic. A partial failure throws a JudgeIncompleteError<number>. */
export interface ToxicityScorer {
  /** Stored with every score (e.g. `perspective`, `classifier:/models/judge`). */
  readonly name: string;
  score(texts: string[]): Promise<number[]>;
}
