"""The cutting proxy of the resume tests cuts where it is told, and only there."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from tests.cutting_proxy import Cut, CuttingProxy

FRAMES = [f"frame {i} " + "x" * (i * 40) for i in range(10)]  # short, 126+ and longer headers


@pytest.fixture
async def frame_server():
    """A WebSocket server on a free port that sends FRAMES, and an HTTP page."""

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for text in FRAMES:
            await ws.send_str(text)
        await ws.close()
        return ws

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="a page")

    app = web.Application()
    app.add_routes([web.get("/ws", websocket), web.get("/page", page)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]
    await runner.cleanup()


async def _read(url: str) -> tuple[list[str], aiohttp.WSMsgType]:
    received: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        while True:
            message = await ws.receive(timeout=5)
            if message.type is not aiohttp.WSMsgType.TEXT:
                return received, message.type
            received.append(message.data)


async def test_an_uncut_connection_relays_everything(frame_server):
    async with CuttingProxy(frame_server) as proxy:
        received, end = await _read(f"{proxy.url}/ws")
        async with aiohttp.ClientSession() as session, session.get(f"{proxy.url}/page") as page:
            assert await page.text() == "a page"
    assert received == FRAMES
    assert end is aiohttp.WSMsgType.CLOSE
    assert proxy.cuts_made == 0
    assert proxy.websockets == 1  # the page took no cut


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "fin"])
@pytest.mark.parametrize("keep_bytes", [0, 7])
async def test_a_cut_drops_the_connection_at_the_matching_frame(frame_server, reset, keep_bytes):
    plan = [Cut(match="frame 6", keep_bytes=keep_bytes, reset=reset), None]
    async with CuttingProxy(frame_server, plan) as proxy:
        received, end = await _read(f"{proxy.url}/ws")
        again, _ = await _read(f"{proxy.url}/ws")  # the next connection takes the next cut
    assert proxy.cuts_made == 1
    assert end in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)  # no close frame came
    if not reset:  # a reset may take bytes already sent with it; a FIN never does
        assert received == FRAMES[:6]
    assert FRAMES[:6][: len(received)] == received
    assert again == FRAMES
    assert proxy.open_relays == 0


async def test_the_nth_match_is_cut(frame_server):
    async with CuttingProxy(frame_server, [Cut(match="frame", nth=3, reset=False)]) as proxy:
        received, _ = await _read(f"{proxy.url}/ws")
    assert received == FRAMES[:2]
