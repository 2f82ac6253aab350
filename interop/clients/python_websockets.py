"""Python websockets client: joins a channel, prints "joined" once the join
is acknowledged, prints the first broadcast it receives, then closes with
1000 and prints the close code the server answered with.

Usage: python3 python_websockets.py ws://host:port/ws channel
"""
import asyncio
import json
import sys

import websockets


async def main(url, channel):
    async with websockets.connect(url, compression=None) as ws:
        await ws.send(json.dumps({"command": "join", "args": {"channel": channel}, "id": 1}))
        reply = await ws.recv()
        if reply != '{"id":1,"ok":true}':
            sys.exit("bad join reply: %r" % reply)
        print("joined", flush=True)
        print("received " + await ws.recv(), flush=True)
        await ws.close(code=1000, reason="done")
        print("closed %d" % ws.close_rcvd.code, flush=True)


asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), timeout=20))
