// Node's ws over wss:// with permessage-deflate: prints the extensions the
// server accepted, "joined" once the join is acknowledged, the first
// broadcast it receives, then broadcasts the same content itself and prints
// what comes back, closes with 1000 and prints the code the server answered.
// Usage: node secure_node_ws.js wss://host:port/ws channel ca.pem content
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const [url, channel, cafile, content] = process.argv.slice(2);
setTimeout(() => { console.error('timed out'); process.exit(2); }, 20000).unref();

const ws = new WebSocket(url, { ca: fs.readFileSync(cafile), perMessageDeflate: { threshold: 0 } });
let step = 0;
ws.on('open', () => {
  console.log('extensions ' + ws.extensions);
  ws.send(JSON.stringify({ command: 'join', args: { channel }, id: 1 }));
});
ws.on('message', (data) => {
  const text = data.toString('utf8');
  switch (step++) {
    case 0:
      if (text !== '{"id":1,"ok":true}') { console.error('bad join reply: ' + text); process.exit(1); }
      console.log('joined');
      return;
    case 1:
      console.log('received ' + text);
      ws.send('{"command":"broadcast","args":{"channel":"' + channel + '","content":' + content + '}}');
      return;
    default:
      console.log('echoed ' + text);
      ws.close(1000, 'done');
  }
});
ws.on('close', (code) => { console.log('closed ' + code); process.exit(0); });
ws.on('error', (err) => { console.error('error: ' + err.message); process.exit(1); });
