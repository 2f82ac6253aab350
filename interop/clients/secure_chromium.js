// Headless Chromium's own WebSocket over wss:// (the test's self-signed
// certificate accepted), which always offers permessage-deflate: prints the
// extensions the server accepted, "joined", the first broadcast it
// receives, then broadcasts the same content itself and prints what comes
// back, closes with 1000 and prints the close code and whether it was
// clean.
// Usage: node secure_chromium.js wss://host:port/ws channel ca.pem content
'use strict';
const { chromium } = require('playwright-core');

const [url, channel, , content] = process.argv.slice(2);
setTimeout(() => { console.error('timed out'); process.exit(2); }, 40000).unref();

function inPage({ url, channel, content }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let step = 0;
    ws.onopen = () => {
      window.report('extensions ' + ws.extensions);
      ws.send(JSON.stringify({ command: 'join', args: { channel }, id: 1 }));
    };
    ws.onmessage = (e) => {
      switch (step++) {
        case 0:
          if (e.data !== '{"id":1,"ok":true}') { reject(new Error('bad join reply: ' + e.data)); return; }
          window.report('joined');
          return;
        case 1:
          window.report('received ' + e.data);
          ws.send('{"command":"broadcast","args":{"channel":"' + channel + '","content":' + content + '}}');
          return;
        default:
          window.report('echoed ' + e.data);
          ws.close(1000, 'done');
      }
    };
    ws.onerror = () => reject(new Error('websocket error'));
    ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean });
  });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--ignore-certificate-errors'],
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.exposeFunction('report', (line) => console.log(line));
    const closed = await page.evaluate(inPage, { url, channel, content });
    console.log('closed ' + closed.code + (closed.clean ? ' clean' : ' unclean'));
  } finally {
    await browser.close();
  }
}

main().catch((err) => { console.error(err.message); process.exit(1); });
