"""How a notice reaches the resident: SMS through an HTTP gateway, e-mail over SMTP, a webhook to the channel's app.

Every transport takes one `Outgoing` message and either returns (delivered) or raises `DeliveryError`, saying
whether trying again later can help (a gateway down, a 503, a timeout) or not (a 4xx, a refused address).
"""

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol, runtime_checkable

import aiosmtplib
import httpx

from services.notifier.documents import NoticeDoc
from shared.errors import PermanentError


class DeliveryError(Exception):
    """`reason` is a short, bounded code (a metric label); `detail` is for people."""

    def __init__(self, reason: str, detail: str = "", *, permanent: bool) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """One message as the notice document holds it; `key` is the notice's idempotency key, passed to the gateway."""

    key: str
    appeal_id: str
    kind: str
    language: str
    recipient: str
    subject: str
    text: str
    email_body: str
    channel: str | None

    @classmethod
    def from_notice(cls, notice: NoticeDoc) -> "Outgoing":
        return cls(
            key=notice.key,
            appeal_id=notice.appeal_id,
            kind=notice.kind,
            language=notice.language,
            recipient=notice.recipient,
            subject=notice.subject,
            text=notice.text,
            email_body=notice.email_body or notice.text,
            channel=notice.channel,
        )


class Transport(Protocol):
    async def send(self, message: Outgoing) -> None: ...


@runtime_checkable
class BatchTransport(Protocol):
    """A transport that can also take many messages in one request (when `batches`), answering for each."""

    batch_size: int

    @property
    def batches(self) -> bool: ...

    async def send(self, message: Outgoing) -> None: ...

    async def send_many(self, messages: Sequence[Outgoing]) -> list["DeliveryError | None"]: ...


def json_client(timeout_s: float, max_connections: int) -> httpx.AsyncClient:
    """The one HTTP client of the process: JSON bodies, kept-alive connections up to the send concurrency."""
    return httpx.AsyncClient(
        timeout=timeout_s,
        headers={"content-type": "application/json"},
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )


# 408 (timeout), 425, 429 (slow down) and every 5xx may pass; any other 4xx is the request's own fault.
_RETRYABLE_4XX = {408, 425, 429}


def check_http_response(response: httpx.Response) -> None:
    if response.is_success:
        return
    detail = f"HTTP {response.status_code} {response.text[:200]}".strip()
    if response.status_code >= 500 or response.status_code in _RETRYABLE_4XX:
        raise DeliveryError(f"http-{response.status_code}", detail, permanent=False)
    raise DeliveryError(f"http-{response.status_code}", detail, permanent=True)


async def post_json(client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as error:
        raise DeliveryError("timeout", f"{url}: {type(error).__name__}", permanent=False) from error
    except httpx.TransportError as error:
        raise DeliveryError("unreachable", f"{url}: {type(error).__name__}: {error}", permanent=False) from error
    check_http_response(response)
    return response


# Values a gateway's payload may carry; the field names are the gateway's (settings.sms_payload_fields).
SMS_VALUES = ("to", "text", "reference", "language")


def sms_payload(message: Outgoing, fields: Mapping[str, str], static: Mapping[str, Any]) -> dict[str, Any]:
    values = {"to": message.recipient, "text": message.text, "reference": message.key, "language": message.language}
    return {**static, **{gateway_field: values[ours] for gateway_field, ours in fields.items()}}


def check_sms_fields(fields: Mapping[str, str]) -> None:
    unknown = sorted(set(fields.values()) - set(SMS_VALUES))
    if unknown or "to" not in fields.values() or "text" not in fields.values():
        raise PermanentError(
            "bad-settings",
            f"sms_payload_fields maps gateway fields to {', '.join(SMS_VALUES)} and needs 'to' and 'text'; "
            f"got {dict(fields)}",
        )


@dataclass(frozen=True)
class SmsBatchFormat:
    """How a gateway takes many messages in one request and answers for each of them, in the request's order: the
    request is `{messages_field: [payload, ...]}` (each payload shaped as a single message's), the answer
    `{results_field: [result, ...]}`. A result is accepted if the value at `status_path` (dotted, e.g.
    `status.groupName` as Infobip answers) is one of `accepted`; otherwise that message alone is refused, for good,
    and `detail_path` says why."""

    messages_field: str = "messages"
    results_field: str = "messages"
    status_path: str = "status"
    accepted: frozenset[str] = frozenset({"accepted"})
    detail_path: str = "error"


def sms_batch_payload(
    messages: Sequence[Outgoing], fields: Mapping[str, str], static: Mapping[str, Any], batch: SmsBatchFormat
) -> dict[str, Any]:
    return {batch.messages_field: [sms_payload(message, fields, static) for message in messages]}


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def sms_batch_outcomes(answer: Any, count: int, batch: SmsBatchFormat) -> list["DeliveryError | None"]:
    """Each message's outcome from a 2xx answer to a batch. An answer that does not account for every message is the
    gateway's fault and may pass: the whole batch is tried again (each message carries its reference, by which a
    gateway recognises one it already took)."""
    results = _at(answer, batch.results_field)
    if not isinstance(results, list) or len(results) != count:
        found = len(results) if isinstance(results, list) else "no"
        detail = f"the gateway answered {found} results for {count} messages"
        return [DeliveryError("bad-answer", detail, permanent=False)] * count
    outcomes: list[DeliveryError | None] = []
    for result in results:
        status = _at(result, batch.status_path)
        if status in batch.accepted:
            outcomes.append(None)
        else:
            detail = f"{status}: {_at(result, batch.detail_path) or ''}".strip(": ")
            outcomes.append(DeliveryError("sms-refused", detail[:300], permanent=True))
    return outcomes


@dataclass
class SmsGateway:
    """An HTTP SMS gateway: POST of a JSON payload whose shape is configured, with a bearer token. With a
    `batch_url`, up to `batch_size` messages go in one request (`send_many`), each with its own outcome."""

    client: httpx.AsyncClient
    url: str
    token: str
    fields: Mapping[str, str]
    static: Mapping[str, Any]
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    batch_url: str | None = None
    batch_size: int = 100
    batch_format: SmsBatchFormat = SmsBatchFormat()
    _auth: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        check_sms_fields(self.fields)
        if self.token:
            self._auth = {self.auth_header: f"{self.auth_scheme} {self.token}".strip()}

    @property
    def batches(self) -> bool:
        return bool(self.batch_url) and self.batch_size > 1

    async def send(self, message: Outgoing) -> None:
        body = json.dumps(sms_payload(message, self.fields, self.static), ensure_ascii=False).encode()
        await post_json(self.client, self.url, body, {"Idempotency-Key": message.key, **self._auth})

    async def send_many(self, messages: Sequence[Outgoing]) -> list[DeliveryError | None]:
        """One request for up to `batch_size` messages. A refusal of the whole request (5xx, 401, timeout) is every
        message's outcome; otherwise each has its own."""
        assert self.batch_url and len(messages) <= self.batch_size
        payload = sms_batch_payload(messages, self.fields, self.static, self.batch_format)
        body = json.dumps(payload, ensure_ascii=False).encode()
        # The same messages make the same key, so a retried batch is recognisable as a whole too.
        batch_key = hashlib.sha256("\n".join(message.key for message in messages).encode()).hexdigest()[:32]
        try:
            response = await post_json(self.client, self.batch_url, body, {"Idempotency-Key": batch_key, **self._auth})
        except DeliveryError as failure:
            return [failure] * len(messages)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return sms_batch_outcomes(answer, len(messages), self.batch_format)


SIGNATURE_HEADER = "X-CityLine-Signature"
DELIVERY_HEADER = "X-CityLine-Delivery"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Webhook:
    """POST to the resident's channel's callback; signed with the channel's secret (HMAC-SHA256 of the body)."""

    client: httpx.AsyncClient
    secrets: Mapping[str, str]
    # Channels' secrets that change while the notifier runs (channels registered in the store), looked up per send.
    current_secrets: Callable[[], Awaitable[Mapping[str, str]]] | None = None

    async def send(self, message: Outgoing) -> None:
        secrets = await self.current_secrets() if self.current_secrets else self.secrets
        body = json.dumps(
            {
                "notification_id": message.key,
                "appeal_id": message.appeal_id,
                "kind": message.kind,
                "language": message.language,
                "subject": message.subject,
                "text": message.text,
            },
            ensure_ascii=False,
        ).encode()
        headers = {DELIVERY_HEADER: message.key}
        if secret := secrets.get(message.channel or ""):
            headers[SIGNATURE_HEADER] = sign(secret, body)
        await post_json(self.client, message.recipient, body, headers)


@dataclass
class SmtpMailer:
    """E-mail over SMTP. A 5xx reply or a refused recipient is permanent; 4xx replies and connection trouble pass."""

    hostname: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    start_tls: bool | None = None
    use_tls: bool = False
    timeout_s: float = 30.0

    def message(self, outgoing: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = outgoing.recipient
        email["Subject"] = outgoing.subject
        email["Message-ID"] = make_msgid(idstring=outgoing.key.replace(":", "."), domain="cityline.kyiv.ua")
        email["X-CityLine-Notification"] = outgoing.key
        email.set_content(outgoing.email_body)
        email["Content-Language"] = outgoing.language  # after set_content, which resets the Content-* headers
        return email

    async def send(self, message: Outgoing) -> None:
        try:
            await aiosmtplib.send(
                self.message(message),
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                use_tls=self.use_tls,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            detail = "; ".join(f"{refused.code} {refused.message}" for refused in error.recipients)
            permanent = all(code >= 500 for code in codes)
            raise DeliveryError("smtp-recipient-refused", detail, permanent=permanent) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(f"smtp-{error.code}", error.message[:200], permanent=error.code >= 500) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError("unreachable", f"{type(error).__name__}: {error}", permanent=False) from error
