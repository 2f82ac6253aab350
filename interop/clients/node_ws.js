// Node's ws client: joins a channel, prints "joined" once the join is
// acknowledged, prints the first broadcast it receives, then closes with
// 1000 and prints the close code the server answered with.
// Usage: node node_ws.js ws://host:port/ws channel
'use strict';
const WebSocket = require('ws');

const [url, channel] = process.argv.slice(2);
setTimeout(() => { console.error('timed out'); process.exit(2); }, 20000).unref();

const ws = new WebSocket(url);
let joined = false;
ws.on('open', () => ws.send(JSON.stringify({ command: 'join', args: { channel }, id: 1 })));
ws.on('message', (data, isBinary) => {
  const text = data.toString('utf8');
  if (!joined) {
    if (isBinary || text !== '{"id":1,"ok":true}') { console.error('bad join reply: ' + text); process.exit(1); }
    joined = true;
    console.log('joined');
    return;
  }
  console.log('received ' + text);
  ws.close(1000, 'done');
});
ws.on('close', (code) => { console.log('closed ' + code); process.exit(0); });
ws.on('error', (err) => { console.error('error: ' + err.message); process.exit(1); });
