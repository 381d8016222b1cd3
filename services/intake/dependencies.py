"""What the intake API's routes depend on, as Annotated aliases: the API's parts (`IntakeDep`), the writing channel
(`WritingChannelDep`) and who reads (`NativeReaderDep`, `Open311ReaderDep`).

`create_api` puts one `IntakeApi` on the app's state; every route module takes it from there, so a route module is a
module-level APIRouter and adding one is one `include_router` in services/intake/api.py.
"""

import math
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pyrate_limiter import Duration, Rate, RateItem, StateBucket, TokenBucket

from services.intake.domain import idempotent_event_id, request_fingerprint
from services.intake.handlers import Registered
from services.intake.repository import AppealReads, IdempotencyKeys
from services.intake.settings import IntakeSettings
from shared.channel_keys import KEY_HEADER, ChannelRecord, ChannelRegistry
from shared.contracts.intake import AppealSubmitted
from shared.staff_auth import ACTOR_HEADER, StaffAuth, StaffCaller
from shared.store import Store
from shared.taxonomy import Taxonomy


class RateLimits:
    """Token buckets kept in this process (the rate a minute is also the burst): one per channel, and one per client
    address for anonymous reads. At most `max_buckets` are kept, the least recently used dropped first, so a flood of
    addresses cannot fill the memory."""

    def __init__(self, max_buckets: int = 10_000) -> None:
        self.max_buckets = max_buckets
        self.buckets: OrderedDict[tuple[str, int], StateBucket] = OrderedDict()

    def retry_after_s(self, key: str, per_minute: int) -> int | None:
        """None if the request may go on; otherwise the seconds until it may."""
        bucket = self.buckets.pop((key, per_minute), None)
        if bucket is None:
            bucket = StateBucket([Rate(per_minute, Duration.MINUTE)], algorithm=TokenBucket())
        self.buckets[(key, per_minute)] = bucket
        while len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)
        item = RateItem(key, bucket.now())
        if bucket.put(item):
            return None
        return max(1, math.ceil(bucket.waiting(item) / 1000))


@dataclass(frozen=True)
class Reader:
    """Who reads: staff and an appeal's own channel see it whole; anyone else sees its public view."""

    staff: bool = False
    channel: str | None = None

    def sees_whole(self, document: dict[str, Any]) -> bool:
        return self.staff or (self.channel is not None and document.get("channel") == self.channel)


@dataclass
class IntakeApi:
    """The parts the intake API's routes use, built once by `create_api`."""

    register: Callable[[AppealSubmitted], Awaitable[Registered]]
    registry: ChannelRegistry
    idempotency_keys: IdempotencyKeys
    reads: AppealReads
    store: Store
    taxonomy: Taxonomy
    clock: Callable[[], datetime]
    settings: IntakeSettings
    staff: StaffAuth
    limits: RateLimits = field(default_factory=RateLimits)

    async def authorize(self, key: str | None, how: str) -> ChannelRecord:
        """The channel of an API key, within its rate; 401/403/429 saying why not."""
        if not key:
            raise HTTPException(401, f"missing API key: send the channel's key {how}", {"WWW-Authenticate": "ApiKey"})
        channel = await self.registry.by_key(key)
        if channel is None:
            raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "ApiKey"})
        if not channel.active:
            raise HTTPException(403, f"the API key of channel {channel.name!r} was revoked")
        retry_after = self.limits.retry_after_s(f"channel:{channel.name}", channel.rate_per_minute)
        if retry_after is not None:
            raise HTTPException(
                429,
                f"channel {channel.name!r} is over its limit of {channel.rate_per_minute} requests a minute",
                {"Retry-After": str(retry_after)},
            )
        return channel

    async def reader(self, request: Request, caller: StaffCaller | None, key: str | None, how: str) -> Reader:
        """Staff, a channel (its own limit) or the public, limited per client address."""
        if caller is not None:
            return Reader(staff=True)
        if key:
            return Reader(channel=(await self.authorize(key, how)).name)
        address = request.client.host if request.client else "unknown"
        per_minute = self.settings.public_reads_per_minute
        retry_after = self.limits.retry_after_s(f"address:{address}", per_minute)
        if retry_after is not None:
            raise HTTPException(
                429,
                f"over the limit of {per_minute} public reads a minute from one address",
                {"Retry-After": str(retry_after)},
            )
        return Reader()

    async def claim_key(self, channel: ChannelRecord, idempotency_key: str | None, payload: Any) -> uuid.UUID:
        """The submission's event id; with an Idempotency-Key, the same for every retry of the same request."""
        if idempotency_key is None:
            return uuid.uuid4()
        fingerprint = request_fingerprint(payload)
        held_by = await self.idempotency_keys.claim(channel.name, idempotency_key, fingerprint, self.clock())
        if held_by != fingerprint:
            raise HTTPException(
                422, "Idempotency-Key was already used for a different request; use a new key for a new appeal"
            )
        return idempotent_event_id(channel.name, idempotency_key)


def intake_api(request: Request) -> IntakeApi:
    return request.app.state.intake


IntakeDep = Annotated[IntakeApi, Depends(intake_api)]

key_header = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="The channel's API key.")
bearer = HTTPBearer(auto_error=False, description="The staff token.")


async def optional_staff(
    intake: IntakeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
    actor: Annotated[str | None, Header(alias=ACTOR_HEADER)] = None,
) -> StaffCaller | None:
    """The staff caller, or None for an anonymous request (a wrong token is still refused)."""
    return intake.staff.caller(credentials, actor)


StaffCallerDep = Annotated[StaffCaller | None, Depends(optional_staff)]


async def writing_channel(intake: IntakeDep, key: Annotated[str | None, Security(key_header)] = None) -> ChannelRecord:
    return await intake.authorize(key, f"in the {KEY_HEADER} header")


async def native_reader(
    request: Request, intake: IntakeDep, caller: StaffCallerDep, key: Annotated[str | None, Security(key_header)] = None
) -> Reader:
    return await intake.reader(request, caller, key, f"in the {KEY_HEADER} header")


async def open311_reader(
    request: Request,
    intake: IntakeDep,
    caller: StaffCallerDep,
    api_key: Annotated[str | None, Query(description="The submitting channel's key: its requests whole.")] = None,
) -> Reader:
    return await intake.reader(request, caller, api_key, "as the api_key parameter")


WritingChannelDep = Annotated[ChannelRecord, Depends(writing_channel)]
NativeReaderDep = Annotated[Reader, Depends(native_reader)]
Open311ReaderDep = Annotated[Reader, Depends(open311_reader)]
