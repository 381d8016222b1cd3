"""The HTTP server's bounds (shared/http_guard.py server_limits) on a real uvicorn and real sockets: slow clients
neither hang a normal request nor hold their connections forever; past the connection limit the answer is 503."""

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cityline.stack import free_port
from shared.http_guard import server_limits
from shared.settings import ServiceSettings

MAX_CONNECTIONS = 8


@pytest.fixture
def header_timeout_s() -> float:
    return 1


@pytest.fixture
def port(header_timeout_s) -> Iterator[int]:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict:
        return {"ok": True}

    settings = ServiceSettings(
        http_max_connections=MAX_CONNECTIONS, http_header_timeout_s=header_timeout_s, http_keep_alive_s=1
    )
    chosen = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=chosen, log_config=None, lifespan="off", **server_limits(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield chosen
    server.should_exit = True
    thread.join(10)


def slow_client(port: int) -> socket.socket:
    """A client that starts a request head and never finishes it."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    return connection


def answer_of(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    return received


def test_slow_heads_do_not_stop_a_normal_request_and_are_answered_408(port):
    slow = [slow_client(port) for _ in range(MAX_CONNECTIONS // 2)]
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/ok", timeout=10).json() == {"ok": True}
        answers = [answer_of(connection) for connection in slow]  # each ends when the server closes it
    finally:
        for connection in slow:
            connection.close()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), answers
    assert all(b"did not arrive within 1 s" in answer for answer in answers)


@pytest.mark.parametrize("header_timeout_s", [60])
def test_past_the_connection_limit_a_request_gets_503_at_once_and_is_served_once_they_go(port):
    slow = [slow_client(port) for _ in range(MAX_CONNECTIONS + 2)]
    try:
        # The server counts a connection once its loop has taken it: ask until it has taken them all.
        deadline = time.monotonic() + 20
        while (refused := httpx.get(f"http://127.0.0.1:{port}/ok", timeout=10)).status_code != 503:
            assert time.monotonic() < deadline, "never refused past the connection limit"
            time.sleep(0.1)
    finally:
        for connection in slow:
            connection.close()
    assert refused.status_code == 503

    def served() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ok", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    deadline = time.monotonic() + 20
    while not served():
        assert time.monotonic() < deadline, "the server did not recover after the slow clients went"
        time.sleep(0.2)
