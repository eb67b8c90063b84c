// The harmlessness (y) against helpfulness (x) scatter plot: a vega-lite spec rendered to SVG by vega (no browser)
// and to PNG by resvg with a font shipped in an npm package.
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** One labelled point. */
export interface PlotPoint {
  model: string;
  helpfulness: number;
  harmlessness: number;
}

const FONT = 'DejaVu Sans';

/** Models at the same place (to 3 decimals) share one label, "a, b", so labels never print over each other. */
function labels(points: PlotPoint[]): PlotPoint[] {
  const groups = new Map<string, PlotPoint>();
  for (const p of points) {
    const key = `${p.helpfulness.toFixed(3)},${p.harmlessness.toFixed(3)}`;
    const g = groups.get(key);
    if (g) g.model = `${g.model}, ${p.model}`;
    else groups.set(key, { ...p });
  }
  return [...groups.values()];
}

/** The vega-lite spec of the scatter: both axes fixed to [0, 1], one labelled point per model. */
export function scatterSpec(points: PlotPoint[], title = 'Harmlessness vs helpfulness'): vl.TopLevelSpec {
  const x = { field: 'helpfulness', type: 'quantitative' as const, scale: { domain: [0, 1] }, title: 'Helpfulness' };
  const y = { field: 'harmlessness', type: 'quantitative' as const, scale: { domain: [0, 1] }, title: 'Harmlessness' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 360,
    height: 360,
    background: 'white',
    config: { font: FONT },
    layer: [
      { data: { values: points }, mark: { type: 'point', filled: true, size: 90 }, encoding: { x, y, color: { field: 'model', type: 'nominal', legend: null } } },
      { data: { values: labels(points) }, mark: { type: 'text', align: 'left', dx: 8, dy: -6, fontSize: 12 }, encoding: { x, y, text: { field: 'model' } } },
    ],
  };
}

/** The path of the TTF font used for text in PNGs (DejaVu Sans, shipped in assets/fonts with its license). */
export function plotFontPath(): string {
  return fileURLToPath(new URL('../../assets/fonts/DejaVuSans.ttf', import.meta.url));
}

/**
 * Renders the scatter to SVG (vega's headless SVG renderer) and PNG (resvg at 2x).
 *
 * @example const { svg, png } = await renderScatter([{ model: 'base', helpfulness: 0.4, harmlessness: 0.6 }]);
 */
export async function renderScatter(points: PlotPoint[], title?: string): Promise<{ svg: string; png: Buffer }> {
  const compiled = vl.compile(scatterSpec(points, title)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    font: { fontFiles: [plotFontPath()], loadSystemFonts: false, defaultFontFamily: FONT, sansSerifFamily: FONT },
    fitTo: { mode: 'zoom', value: 2 },
  }).render().asPng();
  return { svg, png };
}
