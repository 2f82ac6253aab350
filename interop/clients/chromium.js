// Headless Chromium's own WebSocket, driven by playwright-core: the page
// joins a channel, reports "joined" once the join is acknowledged, reports
// the first broadcast it receives, then closes with 1000; the script prints
// the close code the browser saw and whether the close was clean.
// Given a CA file and content, the wss:// run: the test's self-signed
// certificate is accepted (Chromium takes no CA file), the page first
// reports the extensions the server accepted (Chromium always offers
// permessage-deflate), and after the broadcast it broadcasts content
// itself and reports what comes back before it closes.
// Usage: node chromium.js ws://host:port/ws channel
//        node chromium.js wss://host:port/ws channel ca.pem content
'use strict';
const { chromium } = require('playwright-core');

const [url, channel, , content] = process.argv.slice(2);
const secure = content !== undefined;
setTimeout(() => { console.error('timed out'); process.exit(2); }, 40000).unref();

// The page's side: resolves with the close event once the server answered.
function inPage({ url, channel, content }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let step = 0;
    ws.onopen = () => {
      if (content !== null) window.report('extensions ' + ws.extensions);
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
          if (content !== null) {
            ws.send('{"command":"broadcast","args":{"channel":' + JSON.stringify(channel) + ',"content":' + content + '}}');
            return;
          }
          break;
        default:
          window.report('echoed ' + e.data);
      }
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
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(secure ? ['--ignore-certificate-errors'] : [])],
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: secure });
    const page = await context.newPage();
    await page.exposeFunction('report', (line) => console.log(line));
    const closed = await page.evaluate(inPage, { url, channel, content: secure ? content : null });
    console.log('closed ' + closed.code + (closed.clean ? ' clean' : ' unclean'));
  } finally {
    await browser.close();
  }
}

main().catch((err) => { console.error(err.message); process.exit(1); });
