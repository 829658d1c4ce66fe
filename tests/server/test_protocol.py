"""server.protocol: each response leaves in one write, and nothing is lost or reordered
(a real uvicorn on a real socket: keep-alive, pipelining, streaming, close)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn

from server.protocol import JOIN_MAX, OneWriteHttpToolsProtocol, OneWritePerTurn
from tests.helpers import free_port


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default=None):
        return ("127.0.0.1", 1) if name == "peername" else default


def run(coro) -> None:
    """asyncio.run in a thread of its own: other tests' tools may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result(timeout=60)


def test_writes_of_one_turn_leave_as_one_and_a_close_sends_them_first():
    async def main():
        fake = FakeTransport()
        t = OneWritePerTurn(fake, asyncio.get_running_loop())
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.write(b"body")
        assert fake.writes == []  # not yet: at the end of this turn
        await asyncio.sleep(0)
        assert fake.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        t.write(b"last")
        t.close()  # what was written before the close goes out first
        assert fake.writes[-1] == b"last" and fake.closed
        t.write(b"late")
        await asyncio.sleep(0)
        assert fake.writes[-1] == b"last"  # nothing written on a closed connection
        assert t.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the transport's

    run(main())


def test_large_writes_go_out_at_once_and_an_end_of_writing_sends_the_rest_first():
    async def main():
        fake = FakeTransport()
        fake.write_eof = lambda: fake.writes.append(b"<eof>")
        fake.get_write_buffer_size = lambda: 0
        t = OneWritePerTurn(fake, asyncio.get_running_loop())
        t.write(b"head")
        assert t.get_write_buffer_size() == 4  # what waits counts as buffered
        t.write(b"x" * JOIN_MAX)  # past JOIN_MAX: now, with what waited before it
        assert fake.writes == [b"head" + b"x" * JOIN_MAX]
        t.write(b"tail")
        t.write_eof()
        assert fake.writes[-2:] == [b"tail", b"<eof>"]

    run(main())


#: The real transport's writes, one list per connection.
WRITES: list[list[int]] = []


class Counted:
    def __init__(self, transport) -> None:
        self._t = transport
        WRITES.append([])

    def write(self, data) -> None:
        WRITES[-1].append(len(data))
        self._t.write(data)

    def __getattr__(self, name):
        return getattr(self._t, name)


class CountedProtocol(OneWriteHttpToolsProtocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(Counted(transport))


MB = b"x" * 2**20
FLOOD: list[int] = []  # one entry per megabyte the /flood answer has handed over


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/flood":  # 60 MB sent without a pause of its own
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(60):
            await send({"type": "http.response.body", "body": MB, "more_body": True})
            FLOOD.append(1)
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/stream":  # a streamed body: chunks a turn or more apart
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"part%d;" % i, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"end"})
        return
    body = scope["path"].encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server():
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=CountedProtocol, log_level="error"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(10)


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data


def test_each_response_is_one_write_in_order_on_a_kept_alive_connection(server):
    WRITES.clear()
    got = exchange(
        server,
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"  # pipelined: both requests at once
        b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    first, second = got.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(b"\r\n\r\n/first") and second.endswith(b"\r\n\r\n/second")
    assert b"connection: close" in second
    assert len(WRITES[-1]) == 2  # one write per response (uvicorn alone: two each)


def test_a_streamed_body_arrives_whole(server):
    got = exchange(server, b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, body = got.split(b"\r\n\r\n", 1)
    assert b"transfer-encoding: chunked" in head
    chunks, rest = [], body
    while rest:
        size, rest = rest.split(b"\r\n", 1)
        n = int(size, 16)
        if n == 0:
            break
        chunks.append(rest[:n])
        rest = rest[n + 2 :]
    assert b"".join(chunks) == b"part0;part1;part2;end"


def test_a_client_that_reads_nothing_holds_a_large_answer_back(server):
    """uvicorn's flow control still pauses the app: a client that reads nothing gets a few
    megabytes handed over, not the whole answer joined in memory."""
    FLOOD.clear()
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.0)  # reading nothing
        assert len(FLOOD) <= 12, len(FLOOD)  # (uvicorn alone: ~4; joined without bound: 60)
