// Headless Chromium's own WebSocket, driven by playwright-core: the page
// joins a channel, reports "joined" once the join is acknowledged, reports
// the first broadcast it receives, then closes with 1000; the script prints
// the close code the browser saw and whether the close was clean.
// Usage: node chromium.js ws://host:port/ws channel
'use strict';
const { chromium } = require('playwright-core');

const [url, channel] = process.argv.slice(2);
setTimeout(() => { console.error('timed out'); process.exit(2); }, 40000).unref();

// The page's side: resolves with the close event once the server answered.
function inPage({ url, channel }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let joined = false;
    ws.onopen = () => ws.send(JSON.stringify({ command: 'join', args: { channel }, id: 1 }));
    ws.onmessage = (e) => {
      if (!joined) {
        if (e.data !== '{"id":1,"ok":true}') { reject(new Error('bad join reply: ' + e.data)); return; }
        joined = true;
        window.report('joined');
        return;
      }
      window.report('received ' + e.data);
      ws.close(1000, 'done');
    };
    ws.onerror = () => reject(new Error('websocket error'));
    ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean });
  });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.exposeFunction('report', (line) => console.log(line));
    const closed = await page.evaluate(inPage, { url, channel });
    console.log('closed ' + closed.code + (closed.clean ? ' clean' : ' unclean'));
  } finally {
    await browser.close();
  }
}

main().catch((err) => { console.error(err.message); process.exit(1); });
