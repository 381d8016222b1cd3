"""Bounded HTTP on the running intake service: clients that trickle their request heads neither stop a normal
request nor keep their connections; each gets 408 and is closed (CITYLINE_HTTP_HEADER_TIMEOUT_S, short in tests)."""

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.integration

SLOW_CLIENTS = 30


async def _slow_client(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/appeals/1000001 HTTP/1.1\r\nHost: intake\r\n")
    await writer.drain()
    try:
        while True:
            try:
                first = await asyncio.wait_for(reader.read(4096), timeout=0.5)
            except TimeoutError:
                writer.write(b"X")  # one more header byte now and then, never the end of the head
                await writer.drain()
                continue
            return first + await reader.read()
    except ConnectionError:
        return b""
    finally:
        writer.close()


async def test_slow_clients_get_408_and_a_normal_request_is_served_meanwhile(pipeline):
    port = pipeline.service_port("intake")
    slow = [asyncio.create_task(_slow_client(port)) for _ in range(SLOW_CLIENTS)]
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        normal = await http.get("/open311/v2/services.json")
    answers = await asyncio.wait_for(asyncio.gather(*slow), timeout=120)
    assert normal.status_code == 200 and any(service["service_code"] == "hot_water" for service in normal.json())
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), {answer[:40] for answer in answers}
