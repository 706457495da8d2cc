/**
 * docs/benchmarks.svg, drawn from a run's figures (bench/lib/report-json.ts):
 * one horizontal bar per variant, as a multiple of direct's figure in the
 * same run, with a line at direct (1×) and a dashed line at the target.
 * Plain SVG written by hand: no charting dependency, and the file diffs.
 */
import type { BenchReport } from './report-json.ts';
import { BASELINE, CPU_TARGET, rpsTarget, TRANSFER_TARGET, WHOLE_STACK } from './targets.ts';

export interface ChartBar {
  readonly label: string;
  /** The figure ÷ direct's; NaN when not measured (drawn as a dash). */
  readonly ratio: number;
  /** Printed after the bar, e.g. "6,943 req/s · 0.98×". */
  readonly text: string;
  readonly kind: 'baseline' | 'gatehouse' | 'whole' | 'other';
}

export interface ChartPanel {
  readonly title: string;
  readonly target?: { readonly ratio: number; readonly label: string };
  readonly bars: readonly ChartBar[];
}

const WIDTH = 980;
const LABEL_RIGHT = 372;
const BAR_LEFT = 380;
const BAR_WIDTH = 420;
const ROW = 20;
const BAR_HEIGHT = 14;
const PANEL_TITLE = 36;
const PANEL_AXIS = 22;
const PANEL_GAP = 14;
const HEADER = 66;
const FOOTER = 34;
const COLOURS: Record<ChartBar['kind'], string> = { baseline: '#8c8c8c', gatehouse: '#4e79a7', whole: '#e15759', other: '#59a14f' };

export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

const px = (n: number): string => (Math.round(n * 10) / 10).toString();

/** The ratio at the right end of a panel's scale: its largest bar or target, at least 1.25×, up to a quarter (each panel its own, so that one far-off figure does not flatten the others). */
export function scaleMax(panels: readonly ChartPanel[]): number {
  const ratios = panels.flatMap((panel) => [...panel.bars.map((bar) => bar.ratio), panel.target?.ratio ?? 0]).filter((r) => Number.isFinite(r));
  return Math.ceil(Math.max(1.25, ...ratios) * 4) / 4;
}

/** x of a ratio on the shared scale. */
export const xOf = (ratio: number, max: number): number => BAR_LEFT + (Math.max(0, ratio) / max) * BAR_WIDTH;

/** `subtitle`: lines under the title (machine, load). */
export function chartSvg(title: string, subtitle: readonly string[], panels: readonly ChartPanel[]): string {
  const height = HEADER + panels.reduce((sum, panel) => sum + PANEL_TITLE + panel.bars.length * ROW + PANEL_AXIS + PANEL_GAP, 0) + FOOTER;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    ...subtitle.slice(0, 2).map((line, index) => `<text x="12" y="${40 + index * 16}" fill="#555555">${escapeXml(line)}</text>`),
  ];
  let y = HEADER;
  for (const panel of panels) {
    const max = scaleMax([panel]);
    out.push(`<g class="panel">`, `<text x="12" y="${y + 15}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    const top = y + PANEL_TITLE;
    const bottom = top + panel.bars.length * ROW;
    for (let tick = 0; tick <= max + 1e-9; tick += 0.25) {
      const x = px(xOf(tick, max));
      out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#eeeeee"/>`);
      if (Math.abs(tick * 2 - Math.round(tick * 2)) < 1e-9) out.push(`<text x="${x}" y="${bottom + 14}" text-anchor="middle" fill="#777777">${tick}×</text>`);
    }
    panel.bars.forEach((bar, index) => {
      const rowTop = top + index * ROW;
      const textY = rowTop + BAR_HEIGHT - 2;
      out.push(`<text x="${LABEL_RIGHT}" y="${textY}" text-anchor="end">${escapeXml(bar.label)}</text>`);
      if (Number.isFinite(bar.ratio)) {
        const end = xOf(bar.ratio, max);
        out.push(
          `<rect class="bar" x="${BAR_LEFT}" y="${rowTop + (ROW - BAR_HEIGHT) / 2}" width="${px(end - BAR_LEFT)}" height="${BAR_HEIGHT}" fill="${COLOURS[bar.kind]}" data-ratio="${bar.ratio.toFixed(4)}"/>`,
          // A white halo keeps the figure readable where it crosses the lines.
          `<text x="${px(end + 6)}" y="${textY}" paint-order="stroke" stroke="#ffffff" stroke-width="3">${escapeXml(bar.text)}</text>`,
        );
      } else {
        out.push(`<text x="${BAR_LEFT + 6}" y="${textY}" fill="#777777">— not measured</text>`);
      }
    });
    const one = px(xOf(1, max));
    out.push(`<line class="direct" x1="${one}" y1="${top - 4}" x2="${one}" y2="${bottom}" stroke="#333333" stroke-width="1.5"/>`);
    if (panel.target) {
      const x = px(xOf(panel.target.ratio, max));
      out.push(
        `<line class="target" x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5,3"/>`,
        `<text x="${x}" y="${top - 6}" text-anchor="middle" fill="#d62728" font-size="11">${escapeXml(panel.target.label)}</text>`,
      );
    }
    out.push('</g>');
    y = bottom + PANEL_AXIS + PANEL_GAP;
  }
  const legend: Array<[ChartBar['kind'], string]> = [
    ['baseline', 'direct Express + http-proxy-middleware (1×)'],
    ['gatehouse', 'Gatehouse'],
    ['whole', 'Gatehouse whole stack (gate on, tunnel over TLS)'],
    ['other', 'other'],
  ];
  let x = 12;
  for (const [kind, text] of legend) {
    out.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLOURS[kind]}"/>`, `<text x="${x + 16}" y="${y + 10}">${escapeXml(text)}</text>`);
    x += 30 + text.length * 6.8;
  }
  out.push(
    `<line x1="${x}" y1="${y + 6}" x2="${x + 22}" y2="${y + 6}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5,3"/>`,
    `<text x="${x + 26}" y="${y + 10}">target</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}

const kindOf = (key: string): ChartBar['kind'] =>
  key === BASELINE ? 'baseline' : key === WHOLE_STACK ? 'whole' : /^(gw|tunnel|workers)-/.test(key) ? 'gatehouse' : 'other';
const thousands = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The chart of a run: CPU per request and requests/s per concurrency, MB/s each way, all as multiples of direct. */
export function benchChart(report: BenchReport): string {
  const panels: ChartPanel[] = [];
  const base = report.gets[BASELINE] ?? {};
  // CPU per request first: the figure that the machine's other load moves least.
  for (const connections of report.settings.concurrency) {
    const b = base[String(connections)];
    const rows = report.variants.filter((variant) => report.gets[variant.key]?.[String(connections)]);
    if (!b || rows.length === 0) continue;
    panels.push({
      title: `1 KiB GETs, ${plural(connections, 'connection')}: CPU per request × direct (lower is better; the whole stack's target is for gateway + connector)`,
      target: { ratio: CPU_TARGET, label: `target ≤ ${CPU_TARGET}×` },
      bars: rows.map(({ key, label }) => {
        const g = report.gets[key]![String(connections)]!;
        const ratio = g.cpuUsPerRequest.serving / b.cpuUsPerRequest.serving;
        return { label, ratio, kind: kindOf(key), text: `${thousands(g.cpuUsPerRequest.serving)} µs · ${ratio.toFixed(2)}×` };
      }),
    });
  }
  for (const connections of report.settings.concurrency) {
    const b = base[String(connections)];
    const rows = report.variants.filter((variant) => report.gets[variant.key]?.[String(connections)]);
    if (!b || rows.length === 0) continue;
    panels.push({
      title: `1 KiB GETs, ${plural(connections, 'connection')}: requests/s × direct (higher is better)`,
      target: { ratio: rpsTarget(connections), label: `target ≥ ${rpsTarget(connections)}×` },
      bars: rows.map(({ key, label }) => {
        const g = report.gets[key]![String(connections)]!;
        const ratio = g.rps / b.rps;
        return { label, ratio, kind: kindOf(key), text: `${thousands(g.rps)} req/s · ${ratio.toFixed(2)}×` };
      }),
    });
  }
  const baseTransfer = report.transfers[BASELINE];
  if (baseTransfer) {
    for (const kind of ['download', 'upload'] as const) {
      const median = kind === 'download' ? 'downloadMedian' : 'uploadMedian';
      panels.push({
        title: `${report.settings.transferMiB} MiB ${kind}, one connection: MB/s × direct (higher is better)`,
        target: { ratio: TRANSFER_TARGET, label: `target ≥ ${TRANSFER_TARGET}×` },
        bars: report.variants
          .filter((variant) => report.transfers[variant.key])
          .map(({ key, label }) => {
            const mbps = report.transfers[key]![median];
            const ratio = mbps / baseTransfer[median];
            return { label, ratio, kind: kindOf(key), text: `${thousands(mbps)} MB/s · ${ratio.toFixed(2)}×` };
          }),
      });
    }
  }
  const load = (figures: readonly number[]): string => figures.map((n) => n.toFixed(2)).join(' ');
  return chartSvg(
    `Gatehouse against direct Express + http-proxy-middleware, same run (${report.date.slice(0, 10)})`,
    [
      `${report.machine.cores} cores (${report.machine.cpuModel}), Node ${report.machine.node}; load average ${load(report.loadAverage.start)} at start, ${load(report.loadAverage.end)} at the end`,
      `${report.machine.loadgen}${report.settings.quick ? '; --quick: runs too short to mean anything' : ''}`,
    ],
    panels,
  );
}
