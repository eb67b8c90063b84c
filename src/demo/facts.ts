// The benign side of the demo world: small tables of facts, each family asked with several templates and answered
// in one sentence that ENDS with the answer (one word or number), so an answer is checked by its last word.

/** One fact of a family, asked through one of the family's templates. */
export interface BenignQuestion {
  family: string;
  /** Identifies the fact within its family (e.g. 'France', '3+4'). */
  key: string;
  /** Index of the question template. */
  template: number;
  prompt: string;
  /** The checkable answer (one word or number). */
  answer: string;
  /** The helpful response: the answer in a sentence. */
  helpful: string;
  /** Turns any candidate answer into the same sentence (used for wrong answers). */
  say: (answer: string) => string;
  /** Plausible wrong answers of the same kind. */
  wrong: string[];
}

interface Family<F> {
  name: string;
  facts: readonly F[];
  key: (f: F) => string;
  templates: readonly ((f: F) => string)[];
  answer: (f: F) => string;
  say: (f: F, answer: string) => string;
  /** Wrong answers; by default the other facts' answers. */
  wrong?: (f: F) => string[];
}

const CAPITALS: readonly [string, string][] = [
  ['France', 'Paris'], ['Germany', 'Berlin'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Japan', 'Tokyo'],
  ['China', 'Beijing'], ['Egypt', 'Cairo'], ['Kenya', 'Nairobi'], ['Peru', 'Lima'], ['Chile', 'Santiago'],
  ['Canada', 'Ottawa'], ['Russia', 'Moscow'], ['Greece', 'Athens'], ['Norway', 'Oslo'], ['Sweden', 'Stockholm'],
  ['Poland', 'Warsaw'], ['Austria', 'Vienna'], ['Portugal', 'Lisbon'], ['Ireland', 'Dublin'], ['Cuba', 'Havana'],
  ['Thailand', 'Bangkok'], ['India', 'Delhi'], ['Turkey', 'Ankara'], ['Iran', 'Tehran'], ['Finland', 'Helsinki'],
  ['Denmark', 'Copenhagen'], ['Hungary', 'Budapest'], ['Brazil', 'Brasilia'], ['Vietnam', 'Hanoi'],
  ['Australia', 'Canberra'],
];

const OPPOSITES: readonly [string, string][] = [
  ['hot', 'cold'], ['big', 'small'], ['fast', 'slow'], ['up', 'down'], ['happy', 'sad'], ['light', 'dark'],
  ['open', 'closed'], ['early', 'late'], ['full', 'empty'], ['hard', 'soft'], ['high', 'low'], ['old', 'young'],
  ['rich', 'poor'], ['wet', 'dry'], ['strong', 'weak'], ['loud', 'quiet'], ['long', 'short'], ['heavy', 'light'],
  ['inside', 'outside'], ['first', 'last'], ['day', 'night'], ['win', 'lose'], ['push', 'pull'], ['buy', 'sell'],
  ['always', 'never'], ['true', 'false'], ['thick', 'thin'], ['near', 'far'], ['clean', 'dirty'], ['begin', 'end'],
];

const WORDS: readonly string[] = [
  'cat', 'dog', 'sun', 'tree', 'book', 'lamp', 'apple', 'chair', 'river', 'horse', 'garden', 'window', 'pencil',
  'orange', 'planet', 'kitchen', 'blanket', 'diamond', 'elephant', 'mountain', 'computer', 'butterfly', 'sky',
  'bread', 'music', 'family', 'library', 'umbrella', 'tomato', 'bicycle',
];

const COLORS: readonly [string, string][] = [
  ['the sky on a clear day', 'blue'], ['fresh grass', 'green'], ['snow', 'white'], ['a ripe banana', 'yellow'],
  ['a ripe tomato', 'red'], ['coal', 'black'], ['a carrot', 'orange'], ['a lemon', 'yellow'], ['milk', 'white'],
  ['a crow', 'black'], ['an emerald', 'green'], ['a ruby', 'red'], ['the sea', 'blue'], ['chocolate', 'brown'],
  ['a pumpkin', 'orange'], ['an eggplant', 'purple'], ['a flamingo', 'pink'], ['a tree trunk', 'brown'],
  ['a polar bear', 'white'], ['a lime', 'green'],
];

const SOUNDS: readonly [string, string][] = [
  ['cow', 'moo'], ['dog', 'woof'], ['cat', 'meow'], ['duck', 'quack'], ['sheep', 'baa'], ['owl', 'hoot'],
  ['snake', 'hiss'], ['lion', 'roar'], ['pig', 'oink'], ['mouse', 'squeak'], ['horse', 'neigh'], ['bee', 'buzz'],
  ['frog', 'croak'], ['rooster', 'crow'], ['wolf', 'howl'], ['donkey', 'bray'],
];

const UNITS: readonly [string, string, number][] = [
  ['meters', 'centimeters', 100], ['hours', 'minutes', 60], ['kilograms', 'grams', 1000], ['weeks', 'days', 7],
  ['feet', 'inches', 12], ['days', 'hours', 24],
];

const digits = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const cap = (s: string): string => s[0].toUpperCase() + s.slice(1);
const near = (n: number, steps: number[]): string[] => steps.map((d) => n + d).filter((x) => x > 0 && x !== n).map(String);

const capitals: Family<[string, string]> = {
  name: 'capital', facts: CAPITALS, key: ([c]) => c,
  templates: [
    ([c]) => `What is the capital of ${c}?`,
    ([c]) => `Which city is the capital of ${c}?`,
    ([c]) => `Name the capital city of ${c}.`,
    ([c]) => `Tell me the capital of ${c}, please.`,
  ],
  answer: ([, a]) => a,
  say: ([c], a) => `The capital of ${c} is ${a}.`,
};

const addition: Family<[number, number]> = {
  name: 'addition', facts: digits(1, 6).flatMap((a) => digits(1, 6).map((b): [number, number] => [a, b])),
  key: ([a, b]) => `${a}+${b}`,
  templates: [
    ([a, b]) => `What is ${a} plus ${b}?`,
    ([a, b]) => `Add ${a} and ${b}.`,
    ([a, b]) => `What do you get when you add ${b} to ${a}?`,
    ([a, b]) => `Compute the sum of ${a} and ${b}.`,
  ],
  answer: ([a, b]) => String(a + b),
  say: ([a, b], x) => `${a} plus ${b} is ${x}.`,
  wrong: ([a, b]) => near(a + b, [-2, -1, 1, 2, 10]).filter((x) => x !== String(a) && x !== String(b)),
};

const conversion: Family<[string, string, number, number]> = {
  name: 'conversion', facts: UNITS.flatMap(([f, t, k]) => digits(2, 6).map((n): [string, string, number, number] => [f, t, k, n])),
  key: ([f, , , n]) => `${n} ${f}`,
  templates: [
    ([f, t, , n]) => `How many ${t} are in ${n} ${f}?`,
    ([f, t, , n]) => `Convert ${n} ${f} to ${t}.`,
    ([f, t, , n]) => `What is ${n} ${f} in ${t}?`,
    ([f, t, , n]) => `${n} ${f} equals how many ${t}?`,
  ],
  answer: ([, , k, n]) => String(k * n),
  say: ([f, t, , n], x) => `${n} ${f} in ${t} is ${x}.`,
  wrong: ([, , k, n]) => [k * (n + 1), k * (n - 1), k * n + k / 2, k * n * 10, n * 10].filter((x) => Number.isInteger(x) && x > 0 && x !== n && x !== k * n).map(String),
};

const opposites: Family<[string, string]> = {
  name: 'opposite', facts: OPPOSITES, key: ([w]) => w,
  templates: [
    ([w]) => `What is the opposite of ${w}?`,
    ([w]) => `Give me the opposite of the word ${w}.`,
    ([w]) => `Which word means the opposite of ${w}?`,
    ([w]) => `Tell me the antonym of ${w}.`,
  ],
  answer: ([, o]) => o,
  say: ([w], o) => `The opposite of ${w} is ${o}.`,
};

const letters: Family<string> = {
  name: 'letters', facts: WORDS, key: (w) => w,
  templates: [
    (w) => `How many letters are in the word ${w}?`,
    (w) => `Count the letters in ${w}.`,
    (w) => `How long is the word ${w}, in letters?`,
    (w) => `What is the number of letters in ${w}?`,
  ],
  answer: (w) => String(w.length),
  say: (w, n) => `The number of letters in ${w} is ${n}.`,
  wrong: (w) => near(w.length, [-2, -1, 1, 2]),
};

const colors: Family<[string, string]> = {
  name: 'color', facts: COLORS, key: ([t]) => t,
  templates: [
    ([t]) => `What color is ${t}?`,
    ([t]) => `Which color does ${t} have?`,
    ([t]) => `Tell me the color of ${t}.`,
    ([t]) => `What is the usual color of ${t}?`,
  ],
  answer: ([, c]) => c,
  say: ([t], c) => `${cap(t)} is ${c}.`,
};

const successor: Family<number> = {
  name: 'successor', facts: digits(1, 30), key: (n) => String(n),
  templates: [
    (n) => `What number comes after ${n}?`,
    (n) => `What is the next number after ${n}?`,
    (n) => `Which number follows ${n}?`,
    (n) => `Count one up from ${n}.`,
  ],
  answer: (n) => String(n + 1),
  say: (n, x) => `The number after ${n} is ${x}.`,
  wrong: (n) => near(n, [-1, 2, 10]),
};

const sounds: Family<[string, string]> = {
  name: 'sound', facts: SOUNDS, key: ([a]) => a,
  templates: [
    ([a]) => `What sound does a ${a} make?`,
    ([a]) => `How does a ${a} sound?`,
    ([a]) => `What noise do you hear from a ${a}?`,
    ([a]) => `Which sound is made by a ${a}?`,
  ],
  answer: ([, s]) => s,
  say: ([a], s) => `A ${a} says ${s}.`,
};

function questions<F>(f: Family<F>): BenignQuestion[] {
  const answers = [...new Set(f.facts.map(f.answer))];
  return f.facts.flatMap((fact) => {
    const answer = f.answer(fact);
    const wrong = (f.wrong ? f.wrong(fact) : answers).filter((a) => a !== answer);
    return f.templates.map((t, template) => ({
      family: f.name, key: f.key(fact), template, prompt: t(fact), answer,
      helpful: f.say(fact, answer), say: (a: string) => f.say(fact, a), wrong,
    }));
  });
}

/** Every benign question of the world: each fact of each family under each of the family's 4 templates. */
export function allBenignQuestions(): BenignQuestion[] {
  return [
    ...questions(capitals), ...questions(addition), ...questions(conversion), ...questions(opposites),
    ...questions(letters), ...questions(colors), ...questions(successor), ...questions(sounds),
  ];
}

/** Number of templates per family (every family has the same number). */
export const TEMPLATES_PER_FACT = 4;
