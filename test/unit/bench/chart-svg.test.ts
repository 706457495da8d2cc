import assert from 'node:assert/strict';
import { benchChart, chartSvg, escapeXml, scaleMax, xOf, type ChartPanel } from '../../../bench/lib/chart-svg.ts';
import type { BenchReport, GetRecord } from '../../../bench/lib/report-json.ts';
import { evaluateTargets, formatMeasured } from '../../../bench/lib/targets.ts';

const get = (rps: number, p99Ms: number, serving: number): GetRecord => ({
  rps,
  p50Ms: p99Ms / 3,
  p99Ms,
  errors: 0,
  requests: rps * 10,
  cpu: { proxy: 1, connector: 0, store: 0, backend: 0.2, loadgen: 0.1, rest: 0 },
  cpuUsPerRequest: { serving, backend: 40 },
});

// A small run: direct, one Gatehouse variant and the whole stack at 1 and 16 connections, transfers for two of them.
const REPORT: BenchReport = {
  schema: 1,
  date: '2026-12-05T21:00:00.000Z',
  command: 'npm run bench',
  machine: { node: 'v24.21.0', platform: 'linux', arch: 'x64', cpuModel: 'Test CPU <2 GHz>', cores: 2, loadgen: 'wrk' },
  loadAverage: { start: [0.5, 0.4, 0.3], end: [1, 0.8, 0.5] },
  settings: {
    quick: false,
    warmSeconds: 10,
    settleSeconds: 2,
    measureSeconds: 10,
    concurrency: [1, 16],
    rounds: 1,
    transferMiB: 256,
    transferWarmRuns: 2,
    transferRuns: 3,
    tunnels: 2,
    webSocket: false,
    redis: false,
  },
  variants: [
    { key: 'direct', label: 'direct hpm (baseline)' },
    { key: 'tunnel-pass', label: 'pass-through & <tunnel>' },
    { key: 'tunnel-gate', label: 'whole stack' },
  ],
  gets: {
    direct: { '1': get(2000, 1, 300), '16': get(6000, 4, 200) },
    'tunnel-pass': { '1': get(1600, 1.2, 330), '16': get(6600, 5, 190) },
    'tunnel-gate': { '1': get(1000, 2, 450), '16': get(9000, 4, 160) },
  },
  transfers: {
    direct: { downloadMedian: 300, uploadMedian: 200, download: [300], upload: [200], warmDownload: [], warmUpload: [] },
    'tunnel-gate': { downloadMedian: 150, uploadMedian: 300, download: [150], upload: [300], warmDownload: [], warmUpload: [] },
  },
  memory: [],
  checks: { direct: { get: true }, 'tunnel-gate': { get: true, signIn: true, transfer: true } },
  targets: [],
};

/** The bars of one panel of an SVG, in order: their data-ratio and width. */
function panels(svg: string): Array<{ title: string; bars: Array<{ ratio: number; width: number }>; target: number | undefined; direct: number }> {
  return [...svg.matchAll(/<g class="panel">([\s\S]*?)<\/g>/g)].map(([, body]) => ({
    title: /font-weight="bold">([^<]*)</.exec(body!)![1]!.replaceAll('&apos;', "'"),
    bars: [...body!.matchAll(/<rect class="bar"[^>]* width="([\d.]+)"[^>]* data-ratio="([\d.]+)"/g)].map((m) => ({ width: Number(m[1]), ratio: Number(m[2]) })),
    target: /class="target" x1="([\d.]+)"/.exec(body!) ? Number(/class="target" x1="([\d.]+)"/.exec(body!)![1]) : undefined,
    direct: Number(/class="direct" x1="([\d.]+)"/.exec(body!)![1]),
  }));
}

describe('bench: the chart (docs/benchmarks.svg)', () => {
  it("draws each bar as its ratio to direct, on its panel's own scale, with direct at 1× and the target line where the target is", () => {
    const panel: ChartPanel = {
      title: 'requests/s',
      target: { ratio: 0.8, label: 'target ≥ 0.8×' },
      bars: [
        { label: 'direct', ratio: 1, text: '100', kind: 'baseline' },
        { label: 'half', ratio: 0.5, text: '50', kind: 'gatehouse' },
        { label: 'double', ratio: 2, text: '200', kind: 'whole' },
      ],
    };
    const svg = chartSvg('title', ['machine'], [panel]);
    const [drawn] = panels(svg);
    assert.equal(scaleMax([panel]), 2);
    assert.deepEqual(
      drawn!.bars.map((bar) => bar.ratio),
      [1, 0.5, 2],
    );
    const [one, half, double] = drawn!.bars.map((bar) => bar.width) as [number, number, number];
    assert.ok(Math.abs(half / one - 0.5) < 0.01 && Math.abs(double / one - 2) < 0.01, `widths ${one} ${half} ${double}`);
    assert.equal(drawn!.direct, xOf(1, 2));
    assert.equal(drawn!.target, xOf(0.8, 2));
    assert.ok(drawn!.target < drawn!.direct);
  });

  it('draws a figure that was not measured as a dash, not as a bar, and keeps the scale at 1.25× at least', () => {
    const panel: ChartPanel = { title: 't', bars: [{ label: 'missing', ratio: NaN, text: '', kind: 'other' }] };
    const svg = chartSvg('t', [], [panel]);
    assert.equal(panels(svg)[0]!.bars.length, 0);
    assert.match(svg, /not measured/);
    assert.equal(scaleMax([panel]), 1.25);
  });

  it('escapes what it is given, so that a label cannot break the document', () => {
    assert.equal(escapeXml(`<a & "b" 'c'>`), '&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;');
    const svg = benchChart(REPORT);
    assert.match(svg, /pass-through &amp; &lt;tunnel&gt;/);
    assert.match(svg, /Test CPU &lt;2 GHz&gt;/);
    assert.doesNotMatch(svg, /<tunnel>/);
    // Every element that opens closes: tags balance.
    const opened = (svg.match(/<(svg|g|text)\b/g) ?? []).length;
    const closed = (svg.match(/<\/(svg|g|text)>/g) ?? []).length;
    assert.equal(opened, closed);
  });

  it('charts a run: CPU per request and requests/s per concurrency, then MB/s each way, each against its target', () => {
    const drawn = panels(benchChart(REPORT));
    assert.deepEqual(
      drawn.map((panel) => panel.title),
      [
        "1 KiB GETs, 1 connection: CPU per request × direct (lower is better; the whole stack's target is for gateway + connector)",
        "1 KiB GETs, 16 connections: CPU per request × direct (lower is better; the whole stack's target is for gateway + connector)",
        '1 KiB GETs, 1 connection: requests/s × direct (higher is better)',
        '1 KiB GETs, 16 connections: requests/s × direct (higher is better)',
        '256 MiB download, one connection: MB/s × direct (higher is better)',
        '256 MiB upload, one connection: MB/s × direct (higher is better)',
      ],
    );
    assert.deepEqual(
      drawn.map((panel) => panel.bars.map((bar) => bar.ratio)),
      [
        [1, 1.1, 1.5],
        [1, 0.95, 0.8],
        [1, 0.8, 0.5],
        [1, 1.1, 1.5],
        [1, 0.5],
        [1, 1.5],
      ],
    );
    // Each panel on its own scale: up to its largest bar or target, at least 1.25×.
    assert.deepEqual(
      drawn.map((panel) => panel.target),
      [xOf(1, 1.5), xOf(1, 1.25), xOf(0.8, 1.25), xOf(1, 1.5), xOf(0.8, 1.25), xOf(0.8, 1.5)],
    );
  });
});

describe('bench: the performance targets', () => {
  it('judges the whole stack against direct in the same run, each target by its own bound', () => {
    const targets = evaluateTargets({
      concurrency: [1, 16],
      gets: {
        direct: { 1: { rps: 2000, p99Ms: 1, cpuUsPerRequest: 300 }, 16: { rps: 6000, p99Ms: 4, cpuUsPerRequest: 200 } },
        'tunnel-gate': { 1: { rps: 1600, p99Ms: 1.5, cpuUsPerRequest: 301 }, 16: { rps: 5999, p99Ms: 5.2, cpuUsPerRequest: 200 } },
        'tunnel-pass': { 1: { rps: 1680, p99Ms: 1, cpuUsPerRequest: 290 }, 16: { rps: 7000, p99Ms: 4, cpuUsPerRequest: 150 } },
      },
      transfers: { direct: { download: 300, upload: 200 }, 'tunnel-gate': { download: 240, upload: 150 } },
      memory: [{ label: 'connector (TLS)', afterGets: 100 * 1024 * 1024, afterTransfers: 164 * 1024 * 1024 }],
    });
    const table = targets.map((target) => [target.label, formatMeasured(target), target.met]);
    assert.deepEqual(table, [
      ["whole stack CPU per request (gateway + connector) ≤ 1.0× direct's (the proxy), 1 conn", '1.003×', false],
      ['whole stack req/s ≥ 0.8× direct, 1 conn', '0.800×', true],
      ['whole stack p99 ≤ 1.5× direct, 1 conn', '1.500×', true],
      ["whole stack CPU per request (gateway + connector) ≤ 1.0× direct's (the proxy), 16 conn", '1.000×', true],
      ['whole stack req/s ≥ 1.0× direct, 16 conn', '1.000×', false],
      ['whole stack p99 ≤ 1.3× direct, 16 conn', '1.300×', true],
      ['whole stack download MB/s ≥ 0.8× direct', '0.800×', true],
      ['whole stack upload MB/s ≥ 0.8× direct', '0.750×', false],
      ['connector (TLS): RSS growth over the transfers, after a full GC, < 64 MiB', '64 MiB', false],
      ['session gate costs ≤ 5 % of req/s (tunnel (TLS)), 1 conn', '4.8 %', true],
      ['session gate costs ≤ 5 % of req/s (tunnel (TLS)), 16 conn', '14.3 %', false],
    ]);
  });
});
