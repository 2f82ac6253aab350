"""Python websockets over wss:// with permessage-deflate: prints the
extensions the server accepted, "joined" once the join is acknowledged, the
first broadcast it receives, then broadcasts the same content itself and
prints what comes back, closes with 1000 and prints the code the server
answered with.

Usage: python3 secure_python.py wss://host:port/ws channel ca.pem content
"""
import asyncio
import ssl
import sys

import websockets


async def main(url, channel, cafile, content):
    ctx = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(url, ssl=ctx, compression="deflate", max_size=2**20) as ws:
        print("extensions " + ws.response_headers.get("Sec-WebSocket-Extensions", ""), flush=True)
        await ws.send('{"command":"join","args":{"channel":"%s"},"id":1}' % channel)
        reply = await ws.recv()
        if reply != '{"id":1,"ok":true}':
            sys.exit("bad join reply: %r" % reply)
        print("joined", flush=True)
        print("received " + await ws.recv(), flush=True)
        await ws.send('{"command":"broadcast","args":{"channel":"%s","content":%s}}' % (channel, content))
        print("echoed " + await ws.recv(), flush=True)
        await ws.close(code=1000, reason="done")
        print("closed %d" % ws.close_rcvd.code, flush=True)


asyncio.run(asyncio.wait_for(main(*sys.argv[1:5]), timeout=20))
