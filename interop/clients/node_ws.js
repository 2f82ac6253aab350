// Node's ws client: joins a channel, prints "joined" once the join is
// acknowledged, prints the first broadcast it receives, then closes with
// 1000 and prints the close code the server answered with.
// Given a CA file and content, the wss:// run with permessage-deflate: it
// trusts the CA, first prints the extensions the server accepted, and
// after the broadcast broadcasts content itself and prints what comes
// back before it closes.
// Usage: node node_ws.js ws://host:port/ws channel
//        node node_ws.js wss://host:port/ws channel ca.pem content
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const [url, channel, cafile, content] = process.argv.slice(2);
const secure = content !== undefined;
setTimeout(() => { console.error('timed out'); process.exit(2); }, 20000).unref();

const ws = secure
  ? new WebSocket(url, { ca: fs.readFileSync(cafile), perMessageDeflate: { threshold: 0 } })
  : new WebSocket(url);
let step = 0;
ws.on('open', () => {
  if (secure) console.log('extensions ' + ws.extensions);
  ws.send(JSON.stringify({ command: 'join', args: { channel }, id: 1 }));
});
ws.on('message', (data, isBinary) => {
  const text = data.toString('utf8');
  switch (step++) {
    case 0:
      if (isBinary || text !== '{"id":1,"ok":true}') { console.error('bad join reply: ' + text); process.exit(1); }
      console.log('joined');
      return;
    case 1:
      console.log('received ' + text);
      if (secure) {
        ws.send('{"command":"broadcast","args":{"channel":' + JSON.stringify(channel) + ',"content":' + content + '}}');
        return;
      }
      break;
    default:
      console.log('echoed ' + text);
  }
  ws.close(1000, 'done');
});
ws.on('close', (code) => { console.log('closed ' + code); process.exit(0); });
ws.on('error', (err) => { console.error('error: ' + err.message); process.exit(1); });
