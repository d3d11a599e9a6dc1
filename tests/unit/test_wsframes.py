"""The edge's WebSocket protocol writes frames it is handed as they are: a real uvicorn
server on a free port, a real websockets client (in process)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from edge.wsframes import (
    EdgeWebSocketProtocol,
    FramesClosed,
    Shared,
    frame_of,
    frame_writer,
    text_frame,
)
from relayline.redis_server import free_port
from tests.support.wait import async_wait_for

Scope = dict[str, Any]
refused: list[bool] = []
"""Whether the app's write after its close frame was refused (`FramesClosed`)."""


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """Echoes each text message back twice: as prebuilt frames in one write, then through
    ASGI; on "close", closes and tries one more frame."""
    if scope["type"] != "websocket":
        return
    writer = frame_writer(scope)
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        text = message["text"]
        if text == "close":
            await send({"type": "websocket.close", "code": 1001, "reason": "bye"})
            try:
                await writer.write(frame_of("after close")) if writer else None
                refused.append(False)
            except FramesClosed:
                refused.append(True)
            return
        if writer is None:
            await send({"type": "websocket.send", "text": "no writer"})
            continue
        shared = Shared(text)
        await writer.write(frame_of(shared) + frame_of(f"{text}, again"))
        assert frame_of(shared) is frame_of(shared)  # built once
        await send({"type": "websocket.send", "text": "through ASGI"})


@contextlib.asynccontextmanager
async def server(ws: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=ws, ws_per_message_deflate=False, log_level="error"
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    try:

        async def started() -> bool:
            return running.started

        await async_wait_for(started, timeout=10, what="uvicorn started")
        yield f"ws://127.0.0.1:{port}/"
    finally:
        running.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_frames_written_by_the_edge_arrive_as_text_messages_in_order() -> None:
    texts = ['{"seq":1,"delta":"é ✓"}', "x" * 70_000]  # non-ASCII; a 64-bit length
    async with server(EdgeWebSocketProtocol) as url, connect(url, max_size=2**20) as client:
        for text in texts:
            await client.send(text)
            assert [await client.recv() for _ in range(3)] == [
                text,
                f"{text}, again",
                "through ASGI",
            ]
        refused.clear()
        await client.send("close")
        with contextlib.suppress(ConnectionClosed):
            assert await client.recv() is None  # nothing after the close frame
        assert client.close_code == 1001
        assert refused == [True]


async def test_another_protocol_offers_no_writer() -> None:
    async with server("websockets-sansio") as url, connect(url) as client:
        await client.send("hello")
        assert await client.recv() == "no writer"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "x",
        "a" * 125,
        "a" * 126,
        "é" * 63,  # 126 bytes from 63 characters: the length is the UTF-8 bytes'
        "a" * 65535,
        "a" * 65536,
        "😀" * 20_000,
        "a" * (1 << 20),
    ],
)
def test_a_text_frame_is_the_one_websockets_writes(data: str) -> None:
    assert text_frame(data) == Frame(Opcode.TEXT, data.encode()).serialize(mask=False)
