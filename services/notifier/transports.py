"""How a notice reaches the resident: SMS through an HTTP gateway, e-mail over SMTP, a webhook to the channel's app.

Every transport takes one `Outgoing` message and either returns (delivered) or raises `DeliveryError`, saying
whether trying again later can help (a gateway down, a 503, a timeout) or not (a 4xx, a refused address).
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import aiosmtplib
import httpx

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
    def from_document(cls, document: Mapping[str, Any]) -> "Outgoing":
        return cls(
            key=document["_id"],
            appeal_id=document["appeal_id"],
            kind=document["kind"],
            language=document.get("language", "uk"),
            recipient=document["recipient"],
            subject=document.get("subject", ""),
            text=document["text"],
            email_body=document.get("email_body") or document["text"],
            channel=document.get("channel"),
        )


class Transport(Protocol):
    async def send(self, message: Outgoing) -> None: ...


# 408 (timeout), 425, 429 (slow down) and every 5xx may pass; any other 4xx is the request's own fault.
_RETRYABLE_4XX = {408, 425, 429}


def check_http_response(response: httpx.Response) -> None:
    if response.is_success:
        return
    detail = f"HTTP {response.status_code} {response.text[:200]}".strip()
    if response.status_code >= 500 or response.status_code in _RETRYABLE_4XX:
        raise DeliveryError(f"http-{response.status_code}", detail, permanent=False)
    raise DeliveryError(f"http-{response.status_code}", detail, permanent=True)


async def post_json(client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    try:
        response = await client.post(url, content=body, headers={"content-type": "application/json", **headers})
    except httpx.TimeoutException as error:
        raise DeliveryError("timeout", f"{url}: {type(error).__name__}", permanent=False) from error
    except httpx.TransportError as error:
        raise DeliveryError("unreachable", f"{url}: {type(error).__name__}: {error}", permanent=False) from error
    check_http_response(response)


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


@dataclass
class SmsGateway:
    """An HTTP SMS gateway: POST of a JSON payload whose shape is configured, with a bearer token."""

    client: httpx.AsyncClient
    url: str
    token: str
    fields: Mapping[str, str]
    static: Mapping[str, Any]
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"

    def __post_init__(self) -> None:
        check_sms_fields(self.fields)

    async def send(self, message: Outgoing) -> None:
        headers = {"Idempotency-Key": message.key}
        if self.token:
            headers[self.auth_header] = f"{self.auth_scheme} {self.token}".strip()
        body = json.dumps(sms_payload(message, self.fields, self.static), ensure_ascii=False).encode()
        await post_json(self.client, self.url, body, headers)


SIGNATURE_HEADER = "X-CityLine-Signature"
DELIVERY_HEADER = "X-CityLine-Delivery"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Webhook:
    """POST to the resident's channel's callback; signed with the channel's secret (HMAC-SHA256 of the body)."""

    client: httpx.AsyncClient
    secrets: Mapping[str, str]

    async def send(self, message: Outgoing) -> None:
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
        if secret := self.secrets.get(message.channel or ""):
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
