// Drive code-server in headless Debian Chromium and wait for an inline (ghost text) completion.
// Run by run.sh (code-server up on UI_PORT, the folder UI_WORK holding greet.py); writes UI_DIR/ghost.png.
const { chromium } = require('playwright-core');

const PORT = process.env.UI_PORT || '8765';
const URL = `http://127.0.0.1:${PORT}/?folder=${process.env.UI_WORK}`;
const OUT = process.env.UI_DIR || '/tmp/codeward-ui';
const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

async function ghostText(page) {
  return page.evaluate(() => {
    const els = [...document.querySelectorAll('.ghost-text-decoration, .ghost-text, .ghost-text-decoration-preview')];
    return els.map((e) => ({ cls: e.className, text: e.textContent }));
  });
}

async function waitGhost(page, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const g = await ghostText(page);
    if (g.some((x) => x.text && x.text.length)) return g;
    await page.waitForTimeout(250);
  }
  return null;
}

async function runCommand(page, label) {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget .quick-input-box input', { state: 'visible', timeout: 10000 });
  await page.keyboard.type(label, { delay: 10 });
  await page.waitForTimeout(700);
  await page.keyboard.press('Enter');
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    env: { ...process.env, XDG_CONFIG_HOME: `${OUT}/run/xdg/config`, XDG_CACHE_HOME: `${OUT}/run/xdg/cache` }, // keep chromium's Crash Reports out of ~/.config
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  let ok = false;
  try {
    log('browser', browser.version());
    await page.goto(URL, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    log('workbench loaded');
    await page.waitForTimeout(3000); // let the workbench settle (explorer, extensions)

    // Open greet.py via Quick Open
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget .quick-input-box input', { state: 'visible', timeout: 10000 });
    await page.keyboard.type('greet.py', { delay: 20 });
    await page.waitForTimeout(1000);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.editor-instance .monaco-editor .view-lines', { timeout: 20000 });
    await page.waitForFunction(() => document.querySelector('.editor-instance .view-lines')?.textContent.includes('hello'), null, { timeout: 20000 });
    log('greet.py open');

    // Focus editor, cursor to end of file = end of line 2
    await page.click('.editor-instance .monaco-editor .view-lines');
    await page.keyboard.press('Control+End');
    await page.waitForTimeout(8000); // give the extension / language server time to start
    log('status bar:', JSON.stringify(await page.evaluate(() => [...document.querySelectorAll('.statusbar-item')].map((e) => e.textContent.trim()).filter(Boolean))));

    let g = null;
    for (let attempt = 1; attempt <= 4 && !g; attempt++) {
      log(`trigger attempt ${attempt}`);
      await runCommand(page, 'Trigger Inline Suggestion');
      g = await waitGhost(page, 20000);
      if (!g && attempt === 2) {
        // fall back: type a character, which also triggers inline completion
        await page.click('.editor-instance .monaco-editor .view-lines');
        await page.keyboard.press('Control+End');
        await page.keyboard.type('n');
        g = await waitGhost(page, 20000);
      }
    }
    await page.screenshot({ path: `${OUT}/ghost.png` });
    if (g) {
      ok = true;
      log('GHOST TEXT FOUND:', JSON.stringify(g));
      const line = await page.evaluate(() => [...document.querySelectorAll('.editor-instance .view-line')].map((l) => l.textContent));
      log('rendered lines:', JSON.stringify(line));
    } else {
      log('NO GHOST TEXT');
    }
  } catch (e) {
    log('ERROR', e.message);
    await page.screenshot({ path: `${OUT}/ghost-error.png` }).catch(() => {});
  } finally {
    require('fs').writeFileSync(`${OUT}/browser-console.txt`, consoleErrors.join('\n'));
    await browser.close();
    process.exit(ok ? 0 : 1);
  }
})();
