// The model-family registry: maps HF `architectures` / `model_type` and GGUF `general.architecture` names to a
// family's config parser, constructor and GGUF naming. Families register themselves (see docs/models.md).
import type { GgufArch } from '../io/gguf-llama.js';
import type { ModuleOptions } from '../nn/module.js';
import { describe } from '../errors.js';
import type { LanguageModel } from './language-model.js';
import { ConfigError, type ModelConfig } from './config.js';

/** One model family: how its config.json reads and writes, how its model is built, how it is named in GGUF. */
export interface ModelFamily {
  /** HF class names in config.json's `architectures`; the first is written on save. */
  architectures: readonly string[];
  /** HF `model_type` values (used when `architectures` is absent). */
  modelTypes: readonly string[];
  /** HF config.json object -> validated internal config (family defaults filled in). */
  parseConfig(raw: Record<string, unknown>): ModelConfig;
  /** Internal config -> HF config.json object. */
  toHfConfig(config: ModelConfig): Record<string, unknown>;
  /** A model with freshly initialised (or, with init 'empty', unset) parameters. */
  create(config: ModelConfig, opts?: ModuleOptions): LanguageModel;
  /** GGUF naming (general.architecture, metadata prefix, Q/K row permutation); absent when GGUF is unsupported. */
  gguf?: GgufArch;
}

const families: ModelFamily[] = [];

/** Adds a family; an architecture or model_type already registered is refused. */
export function registerFamily(family: ModelFamily): void {
  for (const a of family.architectures) {
    if (families.some((f) => f.architectures.includes(a))) throw new ConfigError(`Model architecture ${a} is already registered`);
  }
  for (const t of family.modelTypes) {
    if (families.some((f) => f.modelTypes.includes(t))) throw new ConfigError(`Model type ${t} is already registered`);
  }
  families.push(family);
}

/** Every registered HF architecture name, in registration order. */
export function registeredArchitectures(): string[] {
  return families.flatMap((f) => f.architectures);
}

/** The GGUF naming of every registered family that has one (what io/'s GGUF reader and writer take). */
export function ggufArchs(): GgufArch[] {
  return families.flatMap((f) => (f.gguf ? [f.gguf] : []));
}

/** The family of a config.json object, by its `architectures` (or, without them, its `model_type`). */
export function familyOf(raw: Record<string, unknown>): ModelFamily {
  const archs = raw.architectures;
  const registered = registeredArchitectures().join(', ');
  if (Array.isArray(archs) && archs.length > 0) {
    const f = families.find((fam) => archs.some((a) => fam.architectures.includes(a as string)));
    if (f) return f;
    throw new ConfigError(`Unsupported architecture ${describe(archs)} in config key architectures; registered: ${registered}`);
  }
  const f = families.find((fam) => fam.modelTypes.includes(raw.model_type as string));
  if (f) return f;
  throw new ConfigError(`Unsupported model_type ${describe(raw.model_type)} (and no architectures key); registered: ${registered}`);
}

/** The family that built a parsed config (by its architecture name). */
export function familyOfConfig(config: ModelConfig): ModelFamily {
  return familyOf({ architectures: [config.architecture] });
}

/** Parses a config.json object with its family's parser. */
export function parseFamilyConfig(raw: Record<string, unknown>): ModelConfig {
  return familyOf(raw).parseConfig(raw);
}

/** Builds the model a config.json object (or a parsed config) describes. */
export function createModel(config: ModelConfig | Record<string, unknown>, opts: ModuleOptions = {}): LanguageModel {
  const parsed = 'hiddenSize' in config ? (config as ModelConfig) : parseFamilyConfig(config);
  return familyOfConfig(parsed).create(parsed, opts);
}
