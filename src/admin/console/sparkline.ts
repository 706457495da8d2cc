/** A sparkline drawn on the server as inline SVG: no script, no chart library. */
import { html, type Html } from './html.ts';

const WIDTH = 180;
const HEIGHT = 32;

/** A polyline of the values scaled to the box; a flat line at the bottom when there is nothing yet. */
export function sparkline(values: readonly number[], label: string): Html {
  const finite = values.map((value) => (Number.isFinite(value) ? Math.max(0, value) : 0));
  const top = Math.max(...finite, 0);
  const step = finite.length > 1 ? WIDTH / (finite.length - 1) : WIDTH;
  const points = (finite.length > 0 ? finite : [0, 0])
    .map((value, index) => `${(index * step).toFixed(1)},${(HEIGHT - 1 - (top === 0 ? 0 : (value / top) * (HEIGHT - 2))).toFixed(1)}`)
    .join(' ');
  return html`<svg class="spark" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${label}">
    <rect width="${WIDTH}" height="${HEIGHT}" fill="#eef1f4" />
    <polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${points}" />
  </svg>`;
}
