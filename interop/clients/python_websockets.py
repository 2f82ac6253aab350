"""Python websockets client: joins a channel, prints "joined" once the join
is acknowledged, prints the first broadcast it receives, then closes with
1000 and prints the close code the server answered with.

Given a CA file and content, the wss:// run with permessage-deflate: it
trusts the CA, first prints the extensions the server accepted, and after
the broadcast broadcasts content itself and prints what comes back before
it closes.

Usage: python3 python_websockets.py ws://host:port/ws channel
       python3 python_websockets.py wss://host:port/ws channel ca.pem content
"""
import asyncio
import json
import ssl
import sys

import websockets


async def main(url, channel, cafile=None, content=None):
    secure = content is not None
    if secure:
        options = {"ssl": ssl.create_default_context(cafile=cafile), "compression": "deflate", "max_size": 2**20}
    else:
        options = {"compression": None}
    async with websockets.connect(url, **options) as ws:
        if secure:
            print("extensions " + ws.response_headers.get("Sec-WebSocket-Extensions", ""), flush=True)
        await ws.send(json.dumps({"command": "join", "args": {"channel": channel}, "id": 1}))
        reply = await ws.recv()
        if reply != '{"id":1,"ok":true}':
            sys.exit("bad join reply: %r" % reply)
        print("joined", flush=True)
        print("received " + await ws.recv(), flush=True)
        if secure:
            await ws.send('{"command":"broadcast","args":{"channel":%s,"content":%s}}' % (json.dumps(channel), content))
            print("echoed " + await ws.recv(), flush=True)
        await ws.close(code=1000, reason="done")
        print("closed %d" % ws.close_rcvd.code, flush=True)


asyncio.run(asyncio.wait_for(main(*sys.argv[1:5]), timeout=20))
