// The wall-clock time of one demo phase, shared by the run and its summary page.

/** One phase and its wall-clock time. */
export interface PhaseTime { phase: string; seconds: number }
