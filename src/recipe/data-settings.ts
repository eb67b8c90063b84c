// The data sections of a recipe (snake_case keys) mapped onto the mixer's camelCase options; the data layer never
// sees a recipe key.
import type { MixOptions } from '../data/mixer.js';
import type { DataTask } from '../data/types.js';
import type { Recipe } from './recipe.js';

/** The main and (with use_buffer) buffer mixer options of a recipe whose values loadRecipe has checked. */
export interface DataSettings<T extends DataTask> { main: MixOptions<T>; buffer?: MixOptions<T> }

function mixOptions<T extends DataTask>(v: Recipe['values'], prefix: '' | 'buffer_', task: T): MixOptions<T> {
  const testSplitSize = v.test_split_size as number | null;
  return {
    mixer: v[`${prefix}dataset_mixer`] as Record<string, number>,
    splits: v[`${prefix}dataset_splits`] as string[],
    task,
    // The original's mixer shuffled with 42 whatever the run's seed; mixer_seed states such a seed.
    seed: (v.mixer_seed as number | null) ?? (v.seed as number),
    skipInvalid: v.skip_invalid === true,
    ...(testSplitSize !== null && testSplitSize !== undefined ? { testSplitSize } : {}),
  };
}

/**
 * The mixer options of `dataset_mixer`/`dataset_splits` and, when use_buffer is on,
 * `buffer_dataset_mixer`/`buffer_dataset_splits`, with the recipe's seed (or mixer_seed), test_split_size and
 * skip_invalid.
 * @example const { main } = dataSettings(recipe, 'sft'); const mix = await mixDatasets(main);
 */
export function dataSettings<T extends DataTask>(r: Recipe, task: T): DataSettings<T> {
  const v = r.values;
  return { main: mixOptions(v, '', task), ...(v.use_buffer ? { buffer: mixOptions(v, 'buffer_', task) } : {}) };
}
