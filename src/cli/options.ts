// Option parsing shared by the commands that take --options (generate, convert, merge, eval): --snake_case and
// --kebab-case name the same option, a typo gets the nearest option suggested, and every problem is an ArgumentError.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { editDistance } from '../recipe/recipe.js';
import { ArgumentError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The option of `options` nearest to `name`, when near enough to be a typo. */
export function nearestOption(name: string, options: Options): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const o of Object.keys(options)) {
    const d = editDistance(name, o);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

/**
 * `parseArgs` with --snake_case accepted for --kebab-case options, unknown options refused with the nearest
 * known one suggested, and Node's parse errors turned into ArgumentErrors naming the command.
 * @example parseOptions('bfpo generate', argv, { 'max-new-tokens': { type: 'string' } })
 */
export function parseOptions<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false): { values: { [K in keyof O]?: O[K] extends { multiple: true } ? string[] : O[K] extends { type: 'boolean' } ? boolean : string }; positionals: string[] } {
  const args: string[] = [];
  let literal = false;
  for (const a of argv) {
    if (literal || !a.startsWith('--') || a === '--') {
      if (a === '--') literal = true;
      args.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq).replace(/_/g, '-');
    if (!(name in options)) {
      const near = nearestOption(name, options);
      throw new ArgumentError(`Unknown option --${a.slice(2, eq < 0 ? undefined : eq)} for ${command}${near ? `; did you mean --${near}?` : ''} (see ${command} --help)`);
    }
    args.push(`--${name}${eq < 0 ? '' : a.slice(eq)}`);
  }
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: values as never, positionals };
  } catch (e) {
    if (e instanceof ArgumentError) throw e;
    throw new ArgumentError(`${(e as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '')} (see ${command} --help)`);
  }
}
