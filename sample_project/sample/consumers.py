"""A WebSocket consumer for sample/asgi_sockets.py (Django Channels)."""

from __future__ import annotations

# Channels ships no type hints (and is an extra: only this site's sockets need it).
from channels.generic.websocket import (
    AsyncWebsocketConsumer,
)


class EchoConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Accepts every socket and sends each text message back."""

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)
