"""Wiring of the notifier: templates, transports, the handlers and the delivery job in the common service frame."""

import logging
from datetime import timedelta

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaRouter

from services.notifier.delivery import Deliverer
from services.notifier.domain import NoticeContext, RetryPolicy, load_templates
from services.notifier.handlers import build_router
from services.notifier.repository import MongoNotifierRepository, ensure_indexes
from services.notifier.settings import NotifierSettings
from services.notifier.transports import SmsBatchFormat, SmsGateway, SmtpMailer, Webhook, json_client
from shared.channel_keys import ChannelRegistry
from shared.channels import load_channels
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.contracts.notifier import NotificationFailed
from shared.deadletter import ATTEMPTS_HEADER, ERROR_HEADER, ORIGIN_HEADER, REASON_HEADER, SERVICE_HEADER
from shared.metrics import dead_letters
from shared.service import Periodic, Wiring, assemble


def channel_webhooks(settings: NotifierSettings) -> dict[str, str]:
    """Each channel's callback: channels.yaml's, unless the settings override it."""
    declared = {
        code: str(channel.webhook_url)
        for code, channel in load_channels(settings.channels_path).channels.items()
        if channel.webhook_url is not None
    }
    return {**declared, **settings.webhook_urls}


class WebhookDirectory:
    """Each channel's callback and signing secret: a channel registered in the store (`cityline channels add NAME
    --webhook URL`) first, then channels.yaml and the settings. The store's are cached briefly by the registry."""

    def __init__(self, settings: NotifierSettings, registry: ChannelRegistry) -> None:
        self.registry = registry
        self.static_urls = channel_webhooks(settings)
        self.static_secrets = {code: secret.get_secret_value() for code, secret in settings.webhook_secrets.items()}

    async def urls(self) -> dict[str, str]:
        return {**self.static_urls, **{name: hook.url for name, hook in (await self.registry.webhooks()).items()}}

    async def secrets(self) -> dict[str, str]:
        return {**self.static_secrets, **{name: hook.secret for name, hook in (await self.registry.webhooks()).items()}}


def build_transports(settings: NotifierSettings, webhooks: WebhookDirectory | None = None) -> dict[str, object]:
    client = json_client(settings.http_timeout_s, settings.delivery_concurrency)
    return {
        "sms": SmsGateway(
            client,
            settings.sms_gateway_url,
            settings.sms_gateway_token.get_secret_value(),
            settings.sms_payload_fields,
            settings.sms_payload_static,
            auth_header=settings.sms_auth_header,
            auth_scheme=settings.sms_auth_scheme,
            batch_url=settings.sms_batch_url,
            batch_size=settings.sms_batch_size,
            batch_format=SmsBatchFormat(
                messages_field=settings.sms_batch_messages_field,
                results_field=settings.sms_batch_results_field,
                status_path=settings.sms_batch_status_path,
                accepted=frozenset(settings.sms_batch_accepted),
                detail_path=settings.sms_batch_detail_path,
            ),
        ),
        "email": SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_start_tls,
            use_tls=settings.smtp_use_tls,
            timeout_s=settings.smtp_timeout_s,
        ),
        "webhook": Webhook(
            client,
            {code: secret.get_secret_value() for code, secret in settings.webhook_secrets.items()},
            current_secrets=webhooks.secrets if webhooks else None,
        ),
    }


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings()
    # httpx logs every request at INFO: one line per message sent is noise at thousands a minute.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    # The deliverer `wire` builds, for the stop hook: it drains after the broker stopped and before the store closes.
    deliverers: list[Deliverer] = []

    def wire(store, park_record, taxonomy) -> Wiring:
        context = NoticeContext(
            templates=load_templates(settings.templates_path),
            taxonomy=taxonomy,
            status_hint=settings.status_hint,
            reply_url=settings.reply_url,
            webhooks=channel_webhooks(settings),
            now=utcnow(),
            takeover_after=timedelta(seconds=settings.delivery_lease_s),
        )
        repo = MongoNotifierRepository(store)
        webhooks = WebhookDirectory(settings, ChannelRegistry(store, cache_s=settings.channel_cache_s))
        router = KafkaRouter()
        failures = router.publisher(
            topics.NOTIFICATIONS_DLQ,
            title="notifications.dlq:notifier",
            description="Notices that could not be delivered, with the reason",
            schema=NotificationFailed,
        )

        async def publish_failure(event: NotificationFailed) -> None:
            await failures.publish(
                event.model_dump(mode="json"),
                key=event.kafka_key(),
                headers={
                    REASON_HEADER: event.reason,
                    ERROR_HEADER: event.detail,
                    ATTEMPTS_HEADER: str(event.attempts),
                    SERVICE_HEADER: settings.service_name,
                    ORIGIN_HEADER: f"notifications/{event.notification_id}",
                },
            )
            dead_letters.labels(settings.service_name, "notifications", event.reason).inc()

        deliverer = Deliverer(
            repo,
            build_transports(settings, webhooks),
            RetryPolicy(
                base_s=settings.retry_base_s, cap_s=settings.retry_cap_s, max_attempts=settings.retry_max_attempts
            ),
            utcnow,
            publish_failure,
            lease_s=settings.delivery_lease_s,
            concurrency=settings.delivery_concurrency,
            settle_chunk=settings.delivery_chunk,
        )
        router.include_router(
            build_router(settings, repo, context, park_record, utcnow, deliverer.record_and_hand_off, webhooks.urls)
        )
        deliverers.append(deliverer)
        delivery = Periodic("notice delivery", deliverer.deliver_due, settings.delivery_interval_s, first_delay_s=1.0)
        heartbeat = Periodic(
            "delivery heartbeat", deliverer.heartbeat, settings.heartbeat_s, first_delay_s=settings.heartbeat_s
        )
        return Wiring(router, background=[delivery, heartbeat], indexes=ensure_indexes)

    app = assemble(
        settings,
        wire,
        title="CityLine notifier",
        description="Tells residents what happened to their appeals over SMS, e-mail or their app's webhook; "
        "records every notice once and retries a gateway that is down.",
    )

    async def finish_or_release() -> None:
        # After the broker stopped (no new hand-offs) and while the store and the heartbeat still run.
        await deliverers[0].stop(settings.shutdown_grace_s)

    app.after_shutdown(finish_or_release)
    return app
