"""uvicorn's httptools protocol with each response sent in one write.

uvicorn writes a response's status line and headers, then its body, as two writes on the
socket (two `send` calls, two TCP segments): for a small JSON answer that is twice the
system calls and twice the client's wake-ups, for nothing. Here the writes made during one
turn of the event loop are joined and sent at the end of that turn: a response whose body
follows its headers at once (every response of this server) leaves in one segment; a
streamed body still leaves as it is written, one turn later at most; a close sends what
was written before it.

Measured with `python -m benchmarks.load_test --clients 32 --seconds 15 --workers 2
--no-baseline`, one write and two writes in turn, twice each: 1,598-1,627 req/s against
1,476-1,512 (server CPU 1.15-1.19 ms a request against 1.18-1.22; wrk's own CPU per
request halved).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWritePerTurn:
    """An asyncio transport whose writes within one loop turn go out as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._parts:
            self._loop.call_soon(self.flush)
        self._parts.append(bytes(data))

    def flush(self) -> None:
        """Send what was written so far (nothing once the connection is closing)."""
        if not self._parts:
            return
        data = b"".join(self._parts)
        self._parts.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # what was written before the close goes out first
        self._transport.close()

    def __getattr__(self, name: str):  # everything else is the transport's own
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (httptools is pinned in requirements.txt) on a
    `OneWritePerTurn` transport: `uvicorn.Config(http=OneWriteHttpToolsProtocol)`."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(OneWritePerTurn(transport, self.loop))
