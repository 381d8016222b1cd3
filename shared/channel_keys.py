"""Channels' API keys: issued once, kept only as a hash in MongoDB, looked up by their public prefix.

A channel here is one client of the intake API (a portal, an app, a partner's contact center). Each belongs to a
channel kind from shared/data/channels.yaml (web, mobile, superapp, ...): the kind says what sort of channel it is,
the name is stamped on every appeal it submits and is what Kafka producers name in their `x-cityline-channel` header.

A key is `cl_<prefix>_<secret>`: the prefix finds the record with one indexed read, the secret's SHA-256 is compared
in constant time. The secret has 256 bits of entropy, so a fast hash is enough (no password stretching needed).
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter, ValidationError
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from shared.contracts.base import Code
from shared.store import CHANNELS, Store

KEY_HEADER = "X-API-Key"
# The header a Kafka producer names its channel with (the same channel list as the HTTP keys).
CHANNEL_HEADER = "x-cityline-channel"
DEFAULT_RATE_PER_MINUTE = 120
PREFIX_BYTES = 6
SECRET_BYTES = 32


class ChannelExists(ValueError):
    pass


class ChannelRecord(BaseModel):
    """A channel as stored (without its key hash)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Code
    kind: Code
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    rate_per_minute: int = Field(DEFAULT_RATE_PER_MINUTE, ge=1)
    # The channel's app callback for residents' notices (the notifier signs each with the channel's secret, which
    # is stored beside it but never part of this record).
    webhook_url: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class ChannelWebhook:
    url: str
    secret: str


_HTTP_URL = TypeAdapter(HttpUrl)


def checked_webhook_url(url: str) -> str:
    """The URL as given if it is an absolute http(s) URL with a host; ValueError saying what is wrong otherwise."""
    try:
        _HTTP_URL.validate_python(url)
    except ValidationError as error:
        raise ValueError(f"webhook URL {url!r} is not an http(s) URL: {error.errors()[0]['msg']}") from None
    return url


def new_key() -> tuple[str, str]:
    """A fresh key and its lookup prefix."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    return f"cl_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}", prefix


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "cl" or len(parts[1]) != 2 * PREFIX_BYTES:
        return None
    return parts[1]


def key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(key), stored_hash)


def _record(document: dict[str, Any]) -> ChannelRecord:
    return ChannelRecord.model_validate({**document, "name": document["_id"]})


async def ensure_channel_indexes(store: Store) -> None:
    """A key is found by its prefix, which is unique."""
    await store.db[CHANNELS].create_index([("key_prefix", ASCENDING)], unique=True, name="key_prefix_unique")


class ChannelRegistry:
    """The `channels` collection: add, list, revoke, and find a channel by its key."""

    def __init__(self, store: Store, *, cache_s: float = 5.0) -> None:
        self.store = store
        self.cache_s = cache_s
        self._active: tuple[float, frozenset[str]] | None = None
        self._webhooks: tuple[float, dict[str, ChannelWebhook]] | None = None

    @property
    def collection(self):
        return self.store.db[CHANNELS]

    async def add(
        self, name: str, kind: str, now: datetime, rate_per_minute: int = DEFAULT_RATE_PER_MINUTE
    ) -> tuple[ChannelRecord, str]:
        """Create the channel; returns it and its key, which is shown this once and never stored."""
        key, prefix = new_key()
        document = {
            "_id": name,
            "kind": kind,
            "key_prefix": prefix,
            "key_hash": key_hash(key),
            "created_at": now,
            "revoked_at": None,
            "rate_per_minute": rate_per_minute,
        }
        ChannelRecord.model_validate({**document, "name": name})
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            raise ChannelExists(f"channel {name!r} exists already (revoked channels keep their name)") from None
        return _record(document), key

    async def set_webhook(self, name: str, url: str) -> str:
        """Give the channel a webhook for its residents' notices, with a new signing secret, which is returned (to be
        shown once) and stored for signing. KeyError if there is no such channel."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        changed = await self.collection.update_one(
            {"_id": name}, {"$set": {"webhook_url": checked_webhook_url(url), "webhook_secret": secret}}
        )
        if changed.matched_count == 0:
            raise KeyError(name)
        self._webhooks = None
        return secret

    async def webhooks(self) -> dict[str, ChannelWebhook]:
        """Active channels' webhooks by channel name; cached for a few seconds, as every batch of notices asks."""
        now = time.monotonic()
        if self._webhooks is not None and now - self._webhooks[0] < self.cache_s:
            return self._webhooks[1]
        found = await self.collection.find(
            {"revoked_at": None, "webhook_url": {"$type": "string"}}, {"webhook_url": 1, "webhook_secret": 1}
        ).to_list()
        hooks = {
            document["_id"]: ChannelWebhook(document["webhook_url"], document["webhook_secret"]) for document in found
        }
        self._webhooks = (now, hooks)
        return hooks

    async def list(self) -> list[ChannelRecord]:
        return [_record(document) for document in await self.collection.find({}).sort("_id", 1).to_list()]

    async def revoke(self, name: str, now: datetime) -> ChannelRecord | None:
        """Revoke the channel's key; None if there is no such channel. Revoking twice keeps the first time."""
        await self.collection.update_one({"_id": name, "revoked_at": None}, {"$set": {"revoked_at": now}})
        document = await self.collection.find_one({"_id": name})
        self._active = None
        return _record(document) if document else None

    async def by_key(self, key: str) -> ChannelRecord | None:
        """The channel this key belongs to (active or revoked); None for a key that is not ours."""
        prefix = key_prefix(key)
        if prefix is None:
            return None
        document = await self.collection.find_one({"key_prefix": prefix})
        if document is None or not key_matches(key, document["key_hash"]):
            return None
        return _record(document)

    async def active_names(self) -> frozenset[str]:
        """Names of the channels not revoked; cached for a few seconds, as every Kafka batch asks."""
        now = time.monotonic()
        if self._active is not None and now - self._active[0] < self.cache_s:
            return self._active[1]
        names = frozenset(
            document["_id"] for document in await self.collection.find({"revoked_at": None}, {"_id": 1}).to_list()
        )
        self._active = (now, names)
        return names
