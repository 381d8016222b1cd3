"""The embedded broker's object store (deploy/embedded/s3/server.js), run for real: the S3 behaviour Tansu's s3://
engine depends on over HTTP, and the broker itself killed with -9 and restarted on it without losing or overwriting
what it acknowledged."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cityline.stack import S3_BUCKET, S3_SERVER_CREDENTIALS, free_port, port_open, s3_server_command, tansu_binary

pytestmark = pytest.mark.integration


class ObjectStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{S3_BUCKET}"

    def start(self) -> None:
        command = [*s3_server_command(), "--directory", str(self.folder), "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        assert time.monotonic() < deadline, f"nothing listens on {port} after {timeout} s"
        time.sleep(0.1)


@pytest.fixture
def object_store(tmp_path) -> Iterator[ObjectStore]:
    store = ObjectStore(tmp_path / "objects")
    store.start()
    yield store
    if store.process and store.process.poll() is None:
        store.kill()


def test_conditional_writes_refuse_what_changed_and_keep_what_was_there(object_store):
    with httpx.Client(base_url=object_store.url) as client:
        key = "/clusters/c/topics/t/partitions/0000000000/watermark.json"
        assert client.put(key, content=b'{"high":20}', headers={"If-None-Match": "*"}).status_code == 200
        refused = client.put(key, content=b'{"high":0}', headers={"If-None-Match": "*"})
        assert refused.status_code == 412
        assert "<Code>PreconditionFailed</Code>" in refused.text
        etag = client.head(key).headers["ETag"]
        assert client.put(key, content=b'{"high":21}', headers={"If-Match": etag}).status_code == 200
        # The version read before is gone: a second writer holding it is refused.
        assert client.put(key, content=b'{"high":99}', headers={"If-Match": etag}).status_code == 412
        assert client.get(key).content == b'{"high":21}'
        current = client.head(key).headers["ETag"]
        assert client.get(key, headers={"If-None-Match": current}).status_code == 304
        assert client.put("/missing", content=b"x", headers={"If-Match": current}).status_code == 412
        assert client.get("/missing").status_code == 404


def test_listing_by_prefix_in_key_order_pages_and_rolls_up(object_store):
    with httpx.Client(base_url=object_store.url) as client:
        for offset in (3, 1, 2, 10):
            client.put(f"/p/records/{offset:020}.batch", content=b"batch")
        client.put("/p/watermark.json", content=b"{}")
        client.put("/q/records/00000000000000000000.batch", content=b"batch")

        listed = client.get("", params={"list-type": "2", "prefix": "p/records/"}).text
        keys = [part.split("</Key>")[0] for part in listed.split("<Key>")[1:]]
        assert keys == [f"p/records/{offset:020}.batch" for offset in (1, 2, 3, 10)]

        first = client.get("", params={"list-type": "2", "prefix": "p/", "max-keys": "2"}).text
        assert "<IsTruncated>true</IsTruncated>" in first
        token = first.split("<NextContinuationToken>")[1].split("<")[0]
        rest = client.get("", params={"list-type": "2", "prefix": "p/", "continuation-token": token}).text
        assert rest.count("<Key>") == 3 and "<IsTruncated>false</IsTruncated>" in rest

        rolled = client.get("", params={"list-type": "2", "prefix": "", "delimiter": "/"}).text
        assert "<Prefix>p/</Prefix>" in rolled and "<Prefix>q/</Prefix>" in rolled and "<Key>" not in rolled


def test_objects_survive_a_kill_of_the_object_store(object_store):
    with httpx.Client(base_url=object_store.url) as client:
        client.put("/kept.json", content=b'{"kept":true}')
        etag = client.head("/kept.json").headers["ETag"]
    object_store.kill()
    object_store.start()
    with httpx.Client(base_url=object_store.url) as client:
        answer = client.get("/kept.json")
        assert answer.content == b'{"kept":true}'
        assert answer.headers["ETag"] == etag


class Broker:
    """Tansu on s3:// over the object store, as `cityline up` runs it."""

    def __init__(self, store: ObjectStore) -> None:
        self.port = free_port()
        self.store = store
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **S3_SERVER_CREDENTIALS,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": f"http://127.0.0.1:{self.store.port}",
            "AWS_ALLOW_HTTP": "true",
        }
        command = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
        self.process = subprocess.Popen(
            [*command, "--storage-engine", f"s3://{S3_BUCKET}/"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for _ in range(60):
        try:
            await producer.start()
            break
        except Exception:  # the broker answers its port before it answers requests
            await asyncio.sleep(0.5)
    try:
        return [(await producer.send_and_wait(topic, value, partition=0)).offset for value in values]
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> tuple[int, list[tuple[int, bytes]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        records: list[tuple[int, bytes]] = []
        while not records or records[-1][0] < end - 1:
            batch = await consumer.getmany(partition, timeout_ms=5000)
            assert batch, f"no records after offset {records[-1][0] if records else None}, log end {end}"
            records += [(record.offset, record.value) for record in batch[partition]]
        return end, records
    finally:
        await consumer.stop()


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


def test_a_broker_killed_and_restarted_goes_on_from_its_stored_offsets(object_store):
    broker = Broker(object_store)
    broker.start()
    try:
        asyncio.run(create_topic(broker.bootstrap, "kept"))
        before = asyncio.run(produce(broker.bootstrap, "kept", [f"before-{n}".encode() for n in range(10)]))
        assert before == list(range(10))
        broker.kill()
        object_store.kill()
        object_store.start()
        broker.start()
        after = asyncio.run(produce(broker.bootstrap, "kept", [f"after-{n}".encode() for n in range(10)]))
        assert after == list(range(10, 20)), "the restarted broker handed out offsets it had given before"
        end, records = asyncio.run(read_all(broker.bootstrap, "kept"))
        assert end == 20
        assert [value for _, value in records] == [f"before-{n}".encode() for n in range(10)] + [
            f"after-{n}".encode() for n in range(10)
        ]
    finally:
        broker.kill()
