import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeRunReport } from '../src/index.js';
import { XSS, reportInput } from './fixtures.js';

// Opens report.html in headless Chromium (Debian's `chromium` package). Without Chromium the
// suite is skipped with the install command, unless GAZE_REQUIRE_CHROMIUM=1 (CI), where it fails.
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const REQUIRED = process.env.GAZE_REQUIRE_CHROMIUM === '1';
const FOUND = existsSync(CHROMIUM);
const INSTALL = 'install it with `sudo apt-get update && sudo apt-get install -y chromium`, or set CHROMIUM_PATH';
const SKIP = !FOUND && !REQUIRED;
if (SKIP) console.warn(`[@gaze/report] skipping the headless Chromium test: no Chromium at ${CHROMIUM}; ${INSTALL}`);

/** vega's default category colours: train (blue) and val (orange). */
const TRAIN_RGB = [0x4c, 0x78, 0xa8];
const VAL_RGB = [0xf5, 0x85, 0x18];

const TITLE = SKIP ? `report.html in Chromium (skipped: no Chromium at ${CHROMIUM}; ${INSTALL})` : 'report.html in headless Chromium';

describe.skipIf(SKIP)(TITLE, () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    if (!FOUND) throw new Error(`GAZE_REQUIRE_CHROMIUM=1 but there is no Chromium at ${CHROMIUM}; ${INSTALL}`);
    dir = mkdtempSync(join(tmpdir(), 'gaze-chromium-'));
    await writeRunReport(dir, reportInput());
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  test('renders the table and the charts, loads nothing else, runs no script, and is not blank', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    const url = pathToFileURL(join(dir, 'report.html')).href;
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('dialog', async (d) => {
      problems.push(`dialog: ${d.message()}`);
      await d.dismiss();
    });
    await page.goto(url, { waitUntil: 'load' });

    // Nothing but the page itself was requested: no network, no other file.
    expect(requests).toEqual([url]);
    expect(problems).toEqual([]);
    expect(await page.$$eval('script', (s) => s.length)).toBe(0);

    // The pivoted metrics table: header, one row per method, the cell texts as shown.
    const header = await page.$$eval('#metrics thead th', (ths) => ths.map((th) => th.textContent));
    expect(header).toEqual(['method', 'pointing_game', 'deletion_auc']);
    const rows = await page.$$eval('#metrics tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(rows).toEqual([
      ['gradcam', '0.8123 [0.75, 0.87]', '0.12'],
      ['rise, v2', '0.3333', '0.2'],
      [XSS, '0.5', ''],
    ]);

    // The training-curves chart: laid out with a real size, with its 4 line paths drawn.
    const chart = await page.$eval('#chart-training-curves svg', (svg) => {
      const box = svg.getBoundingClientRect();
      const lines = [...svg.querySelectorAll('path[aria-roledescription="line mark"]')] as unknown as Array<{
        getBBox(): { width: number };
        getAttribute(name: string): string | null;
      }>;
      return {
        width: box.width,
        height: box.height,
        lines: lines.map((p) => ({ w: p.getBBox().width, stroke: p.getAttribute('stroke') })),
        axisTitles: [...svg.querySelectorAll('.role-axis-title text')].map((t) => t.textContent),
      };
    });
    expect(chart.width).toBeGreaterThan(300);
    expect(chart.height).toBeGreaterThan(100);
    expect(chart.lines).toHaveLength(4);
    for (const l of chart.lines) expect(l.w).toBeGreaterThan(100);
    expect(chart.lines.map((l) => l.stroke)).toEqual(['#4c78a8', '#f58518', '#4c78a8', '#f58518']);
    expect(chart.axisTitles).toEqual(['epoch', 'loss', 'epoch', 'accuracy']);
    const bars = await page.$$eval('#chart-metrics svg path[aria-roledescription="bar"]', (ps) => ps.length);
    expect(bars).toBe(5);

    // The screenshot (saved next to the report) is not blank: varied pixels, the line colours present.
    const shot = join(dir, 'report-screenshot.png');
    await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
    const { data, info } = await sharp(shot).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(1200);
    expect(info.height).toBeGreaterThan(900);
    const near = (i: number, rgb: number[]) => rgb.every((c, k) => Math.abs(data[i + k] - c) <= 24);
    let train = 0;
    let val = 0;
    for (let i = 0; i < data.length; i += 3) {
      if (near(i, TRAIN_RGB)) train++;
      else if (near(i, VAL_RGB)) val++;
    }
    expect(train).toBeGreaterThan(500);
    expect(val).toBeGreaterThan(500);
    const stats = await sharp(shot).stats();
    expect(stats.channels[0].stdev).toBeGreaterThan(10);
    await page.close();
  });
});
