"""Channels registered with their own webhook: the URL is checked, and the notifier's directory puts a registered
channel's callback and secret before channels.yaml's and the settings'. On the real store:
tests/integration/test_notifier.py."""

import pytest

from services.notifier.main import WebhookDirectory
from services.notifier.settings import NotifierSettings
from shared.channel_keys import ChannelWebhook, checked_webhook_url


@pytest.mark.parametrize("url", ["https://app.example.com/cityline", "http://127.0.0.1:39025/webhook/partner"])
def test_an_http_url_is_accepted_as_given(url):
    assert checked_webhook_url(url) == url


@pytest.mark.parametrize("url", ["ftp://example.com/x", "app.example.com/hook", "https://", ""])
def test_anything_but_an_http_url_is_refused_naming_it(url):
    with pytest.raises(ValueError, match="webhook URL"):
        checked_webhook_url(url)


class Registry:
    def __init__(self, hooks: dict[str, ChannelWebhook]) -> None:
        self.hooks = hooks

    async def webhooks(self) -> dict[str, ChannelWebhook]:
        return self.hooks


async def test_a_registered_channels_webhook_comes_before_the_files_and_the_settings():
    settings = NotifierSettings(
        webhook_urls={"mobile": "http://settings/mobile", "partner": "http://settings/partner"},
        webhook_secrets={"mobile": "s-mobile", "partner": "s-settings"},
    )
    directory = WebhookDirectory(settings, Registry({"partner": ChannelWebhook("https://partner/hook", "s-store")}))

    urls, secrets = await directory.urls(), await directory.secrets()

    assert (urls["partner"], secrets["partner"]) == ("https://partner/hook", "s-store")
    assert (urls["mobile"], secrets["mobile"]) == ("http://settings/mobile", "s-mobile")
    assert "superapp" in urls  # channels.yaml's own
