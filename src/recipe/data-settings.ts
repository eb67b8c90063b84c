// The data sections of a recipe (snake_case keys) mapped onto the mixer's camelCase options; the data layer never
// sees a recipe key.
import type { MixOptions } from '../data/mixer.js';
import type { DataTask } from '../data/types.js';
import type { RecipeValues } from './values.js';

/** The mixer options of one data section, without the task (the run adds it). */
export type MixSettings = Omit<MixOptions<DataTask>, 'task'>;

/** The main and (with use_buffer) buffer data of a run. */
export interface DataSettings { main: MixSettings; buffer: MixSettings | null }

function mixSettings(v: RecipeValues, prefix: '' | 'buffer_'): MixSettings {
  const testSplitSize = v.numberOrNull('test_split_size');
  return {
    mixer: v.mixerOrNull(`${prefix}dataset_mixer`) ?? {},
    splits: v.strings(`${prefix}dataset_splits`),
    // The original's mixer shuffled with 42 whatever the run's seed; mixer_seed states such a seed.
    seed: v.numberOrNull('mixer_seed') ?? v.number('seed'),
    skipInvalid: v.boolean('skip_invalid'),
    ...(testSplitSize !== null ? { testSplitSize } : {}),
  };
}

/**
 * The mixer settings of `dataset_mixer`/`dataset_splits` and, when use_buffer is on,
 * `buffer_dataset_mixer`/`buffer_dataset_splits`, with the recipe's seed (or mixer_seed), test_split_size and skip_invalid.
 */
export function dataSettings(v: RecipeValues): DataSettings {
  return { main: mixSettings(v, ''), buffer: v.boolean('use_buffer') ? mixSettings(v, 'buffer_') : null };
}

/**
 * The mixer options of one data section for `task`.
 * @example const mix = await mixDatasets(mixOptions(settings.data.main, 'sft'));
 */
export function mixOptions<T extends DataTask>(m: MixSettings, task: T): MixOptions<T> {
  return { ...m, task };
}
