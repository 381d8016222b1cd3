"""services/notifier/transports.py without a network: the SMS payload's configured shape, the webhook signature,
what an HTTP status means, the e-mail as built. Real delivery is tested in tests/integration/test_notifier.py."""

import hashlib
import hmac

import httpx
import pytest

from services.notifier.transports import (
    DeliveryError,
    Outgoing,
    SmsGateway,
    SmtpMailer,
    check_http_response,
    sign,
    sms_payload,
)
from shared.errors import PermanentError

MESSAGE = Outgoing(
    key="1000001:registered",
    appeal_id="1000001",
    kind="registered",
    language="uk",
    recipient="+380671234567",
    subject="Звернення № 1000001 зареєстровано",
    text="Ваше звернення № 1000001 зареєстровано.",
    email_body="Добрий день!\n\nВаше звернення № 1000001 зареєстровано.\n",
    channel="web",
)


def test_the_sms_payload_has_the_gateways_field_names():
    payload = sms_payload(MESSAGE, {"phone": "to", "message": "text", "client_ref": "reference"}, {"from": "Kyiv1551"})

    assert payload == {
        "from": "Kyiv1551",
        "phone": "+380671234567",
        "message": "Ваше звернення № 1000001 зареєстровано.",
        "client_ref": "1000001:registered",
    }


@pytest.mark.parametrize(
    "fields", [{"to": "to"}, {"message": "text"}, {"to": "to", "text": "text", "x": "secret"}], ids=str
)
def test_a_payload_mapping_without_recipient_or_text_or_with_unknown_values_is_refused(fields):
    with pytest.raises(PermanentError, match="sms_payload_fields"):
        SmsGateway(httpx.AsyncClient(), "http://gateway", "", fields, {})


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, True), (401, True), (404, True), (422, True), (408, False), (429, False), (500, False), (503, False)],
)
def test_what_an_http_status_means(status, permanent):
    with pytest.raises(DeliveryError) as caught:
        check_http_response(httpx.Response(status, text="no"))

    assert (caught.value.reason, caught.value.permanent) == (f"http-{status}", permanent)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_success_statuses_pass(status):
    check_http_response(httpx.Response(status))


def test_the_webhook_signature_is_hmac_sha256_of_the_body():
    body = b'{"appeal_id": "1000001"}'

    assert sign("s3cret", body) == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign("other", body) != sign("s3cret", body)


def test_the_email_carries_subject_body_and_notification_key():
    email = SmtpMailer("127.0.0.1", 25, "1551 <noreply@1551.gov.ua>").message(
        MESSAGE.__class__(**{**MESSAGE.__dict__, "recipient": "olena@example.com"})
    )

    assert email["To"] == "olena@example.com"
    assert email["Subject"] == "Звернення № 1000001 зареєстровано"
    assert email["X-CityLine-Notification"] == "1000001:registered"
    assert email["Content-Language"] == "uk"
    assert email.get_content().startswith("Добрий день!")
