// `npm run screenshot`: renders a first reminder with sample data through the real template
// and photographs it in headless Chromium (Debian's `chromium`), for the README.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { renderEmail } from './index';
import { sampleEmailContext } from './sample';

const out = fileURLToPath(new URL('./screenshots/first-reminder.png', import.meta.url));
const { subject, html } = renderEmail('first-reminder', { ...sampleEmailContext, locale: 'en-IE', optOutUrl: 'mailto:billing@dunning.local?subject=opt-out' });
const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dunning-shot-')), 'email.html');
writeFileSync(file, html);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 720, height: 380 } });
  await page.goto(`file://${file}`);
  await page.screenshot({ path: out, fullPage: true });
} finally {
  await browser.close();
}
console.log(`Wrote ${out} ("${subject}")`);
