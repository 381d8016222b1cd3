"""What `cityline up` prepares for the console: its session secret, the phone channel's intake key, the addresses of
the services it asks, and a first admin when nobody can sign in yet. Secrets live in the run folder (mode 0600)."""

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any

from services.console.auth import hash_password
from services.console.repository import UserDoc, UserRepository, one_time_password
from shared.channel_keys import ChannelExists, ChannelRegistry, key_hash, new_key
from shared.contracts.base import utcnow
from shared.store import CHANNELS, Store

# The call desk registers appeals as this channel (a channel kind of shared/data/channels.yaml).
PHONE_CHANNEL = "phone"
FIRST_ADMIN = "admin"


def _secret_file(path: Path, make) -> str:
    """The secret kept in `path`, made (and written readable by the owner only) if there is none yet."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(value + "\n")
    return value


async def _phone_key(store: Store, kept: str | None) -> str:
    """A working intake key of the phone channel: the one kept if the store still knows it, else a new one."""
    registry = ChannelRegistry(store)
    if kept:
        record = await registry.by_key(kept)
        if record is not None and record.active and record.name == PHONE_CHANNEL:
            return kept
    try:
        _record, key = await registry.add(PHONE_CHANNEL, PHONE_CHANNEL, utcnow())
        return key
    except ChannelExists:
        pass
    # The channel exists but its key was lost with an earlier run folder: give it a new key (and unrevoke it).
    key, prefix = new_key()
    await store.db[CHANNELS].update_one(
        {"_id": PHONE_CHANNEL}, {"$set": {"key_prefix": prefix, "key_hash": key_hash(key), "revoked_at": None}}
    )
    return key


async def _first_admin(store: Store) -> str | None:
    """With no user at all, an `admin` and their one-time password (None if there are users)."""
    users = UserRepository(store)
    if await users.count() > 0:
        return None
    password = one_time_password()
    now = utcnow()
    await users.add(
        UserDoc.model_validate(
            {
                "_id": FIRST_ADMIN,
                "role": "admin",
                "password_hash": hash_password(password),
                "must_change_password": True,
                "created_at": now,
                "password_changed_at": now,
            }
        )
    )
    return password


def console_folder(run_dir: Path) -> Path:
    return run_dir / "console"


def prepare_console(stack: Any) -> dict[str, str]:
    """The console's environment for this stack; creates the phone channel's key and a first admin if needed."""
    folder = console_folder(stack.run_dir)
    session_secret = _secret_file(folder / "session-secret", lambda: secrets.token_urlsafe(48))
    key_file = folder / "intake-key"
    kept = key_file.read_text().strip() if key_file.exists() else None

    async def prepare() -> tuple[str, str | None]:
        from shared.settings import ConnectionSettings

        settings = ConnectionSettings(mongodb_uri=stack.store_uri, mongodb_database=stack.database)
        store = Store.from_settings(settings, app_name="cityline-up")
        # No index building here: the services build theirs as they start; these are a few reads and writes of
        # small collections.
        try:
            return await _phone_key(store, kept), await _first_admin(store)
        finally:
            await store.close()

    key, first_password = asyncio.run(prepare())
    if first_password is not None:
        first = folder / "first-admin-password"
        first.unlink(missing_ok=True)
        _secret_file(first, lambda: first_password)
    if key != kept:
        key_file.unlink(missing_ok=True)
        _secret_file(key_file, lambda: key)
    return {
        "CITYLINE_CONSOLE_SESSION_SECRET": session_secret,
        "CITYLINE_CONSOLE_INTAKE_KEY": key,
        "CITYLINE_CONSOLE_INTAKE_URL": f"http://127.0.0.1:{stack.service_port('intake')}",
        "CITYLINE_CONSOLE_CLASSIFIER_URL": f"http://127.0.0.1:{stack.service_port('classifier')}",
        "CITYLINE_CONSOLE_DISPATCHER_URL": f"http://127.0.0.1:{stack.service_port('dispatcher')}",
        "CITYLINE_CONSOLE_KNOWLEDGE_URL": f"http://127.0.0.1:{stack.service_port('knowledge')}",
    }


def sign_in_hint(run_dir: Path) -> str:
    """How to sign in, for `cityline up` to print."""
    first = console_folder(run_dir) / "first-admin-password"
    lines = ["add people with [bold]cityline users add NAME --role operator[/bold] (prints a one-time password)"]
    if first.exists():
        lines.insert(0, f"first sign-in: user [bold]{FIRST_ADMIN}[/bold], one-time password in {first}")
    return "\n".join(lines)
