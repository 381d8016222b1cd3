"""How far behind in time a consumer is: the broker's timestamp of the last record each partition handed it.

`cityline_consumer_lag` counts the records waiting; this gauge dates the consumer's position. The rule
`cityline:consumer_lag_seconds` (deploy/prometheus) combines them: while records wait, the consumer is at least
`time() - last record's timestamp` behind; with none waiting it is not behind at all.
"""

from typing import Any

from faststream import BaseMiddleware
from prometheus_client import Gauge

from shared.metrics import registry

last_record_timestamp = Gauge(
    "cityline_consumer_last_record_timestamp_seconds",
    "Broker timestamp (Unix seconds) of the newest record the service's consumer received, per topic and partition",
    ["service", "topic", "partition"],
    registry=registry,
)


def note_records(service: str, records: Any) -> None:
    newest: dict[tuple[str, int], int] = {}
    for record in records if isinstance(records, tuple | list) else (records,):
        key = (record.topic, record.partition)
        newest[key] = max(newest.get(key, 0), record.timestamp)
    for (topic, partition), timestamp_ms in newest.items():
        last_record_timestamp.labels(service, topic, str(partition)).set(timestamp_ms / 1000)


class ConsumerProgressMiddleware:
    """A factory FastStream calls per message: notes the records' timestamps before the handler runs."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, msg: Any, /, *, context: Any) -> "_ConsumerProgressScope":
        return _ConsumerProgressScope(msg, context=context, service=self.service)


class _ConsumerProgressScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, service: str) -> None:
        super().__init__(msg, context=context)
        self.service = service

    async def consume_scope(self, call_next, msg):
        note_records(self.service, msg.raw_message)
        return await call_next(msg)
