"""Dead letters: what a service cannot process goes to `<topic>.dlq` with its reason; nothing is lost.

`park` publishes one record as it arrived (raw body, original key and headers) plus `x-cityline-*`
headers. `DeadLetterMiddleware` is the broker-wide safety net around every handler: a transient failure
of the store or broker is retried in place with bounded backoff (handlers are idempotent, so a retry is
safe); what still fails, and any error no handler expected, parks the whole message or batch. If even
parking fails, the message is nacked so Kafka delivers it again.
"""

import json
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream.exceptions import HandlerException, NackMessage
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, OperationFailure
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.contracts.topics import dead_letter
from shared.errors import PermanentError, TransientError, describe_issues
from shared.logging import appeal_fields
from shared.metrics import dead_letters, transient_retries

logger = logging.getLogger(__name__)

ERROR_HEADER = "x-cityline-error"
REASON_HEADER = "x-cityline-reason"
ATTEMPTS_HEADER = "x-cityline-attempts"
SERVICE_HEADER = "x-cityline-service"
ORIGIN_HEADER = "x-cityline-origin"


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TransientError | ConnectionFailure | KafkaError):
        return True
    # Not-primary and interrupted-at-shutdown codes clear by themselves; other server errors do not.
    return isinstance(error, OperationFailure) and error.code in {11600, 11602, 189, 91, 10107, 13435}


def describe(error: BaseException) -> tuple[str, str]:
    """A bounded reason code for metrics and a readable detail for people."""
    if isinstance(error, PermanentError):
        return error.reason, error.detail or str(error)
    if isinstance(error, ValidationError):
        if any(issue["type"] == "json_invalid" for issue in error.errors()):
            return "invalid-json", str(error.errors()[0]["msg"])
        return "invalid-event", describe_issues(error.errors(), whole="body", limit=10)
    return "unexpected-error", f"{type(error).__name__}: {error}"


async def park(
    broker: KafkaBroker,
    record: ConsumerRecord,
    *,
    service: str,
    reason: str,
    detail: str,
    attempts: int = 1,
) -> None:
    headers = {key: value.decode(errors="replace") for key, value in (record.headers or ())}
    headers.update(
        {
            REASON_HEADER: reason,
            ERROR_HEADER: detail[:2000],
            ATTEMPTS_HEADER: str(attempts),
            SERVICE_HEADER: service,
            ORIGIN_HEADER: f"{record.topic}/{record.partition}/{record.offset}",
        }
    )
    await broker.publish(
        record.value or b"",
        topic=dead_letter(record.topic),
        key=record.key,
        headers=headers,
    )
    dead_letters.labels(service, record.topic, reason).inc()
    logger.warning(
        "parked %s/%s/%s in %s: %s: %s",
        record.topic,
        record.partition,
        record.offset,
        dead_letter(record.topic),
        reason,
        detail[:300],
        extra=appeal_fields(_body_of(record)),
    )


def _body_of(record: ConsumerRecord) -> dict[str, Any]:
    """The parked record's JSON object, for the ids its log line carries; {} when it is not one."""
    try:
        body = json.loads(record.value or b"")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def records_of(raw_message: Any) -> Iterable[ConsumerRecord]:
    return raw_message if isinstance(raw_message, tuple | list) else (raw_message,)


class DeadLetterMiddleware:
    """A factory FastStream calls per message; it knows the broker to park with."""

    def __init__(self, *, service: str, attempts: int, max_wait_s: float) -> None:
        self.service = service
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.broker: KafkaBroker | None = None

    def bind(self, broker: KafkaBroker) -> None:
        self.broker = broker

    def __call__(self, msg: Any, /, *, context: Any) -> "_DeadLetterScope":
        return _DeadLetterScope(msg, context=context, factory=self)


class _DeadLetterScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, factory: DeadLetterMiddleware) -> None:
        super().__init__(msg, context=context)
        self.factory = factory

    async def consume_scope(self, call_next, msg):
        factory = self.factory
        attempt = 0
        try:
            async for attempt_state in AsyncRetrying(
                retry=retry_if_exception(is_transient),
                stop=stop_after_attempt(factory.attempts),
                wait=wait_exponential(multiplier=0.2, max=factory.max_wait_s),
                before_sleep=lambda _state: transient_retries.labels(factory.service).inc(),
                reraise=True,
            ):
                with attempt_state:
                    attempt = attempt_state.retry_state.attempt_number
                    return await call_next(msg)
        except HandlerException:
            raise
        except Exception as error:
            reason, detail = describe(error)
            if is_transient(error):
                reason = "transient-exhausted"
            elif reason == "unexpected-error":
                logger.exception("handler failed on %s", msg.message_id)
            await self._park_all(msg, reason=reason, detail=detail, attempts=attempt)
        return None

    async def _park_all(self, msg: Any, *, reason: str, detail: str, attempts: int) -> None:
        broker = self.factory.broker
        try:
            assert broker is not None, "DeadLetterMiddleware.bind() was not called"
            for record in records_of(msg.raw_message):
                await park(
                    broker, record, service=self.factory.service, reason=reason, detail=detail, attempts=attempts
                )
        except Exception as error:
            # Whatever kept it from the dead-letter topic, the message must not be committed: deliver it again.
            logger.error("could not park %s (%s); it will be delivered again", msg.message_id, error)
            raise NackMessage() from error
