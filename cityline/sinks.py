"""Local stand-ins for the outside world the notifier talks to, started by `cityline up` (and the tests' stack):

- `sms`: an HTTP SMS gateway (POST /sms, bearer token optional) that also takes app channels' webhooks
  (POST /webhook/<channel>);
- `smtp`: an SMTP server (aiosmtpd) that accepts mail, and refuses mailboxes whose name starts with `no-such-`
  (`no-such-user@example.com`) as a real server refuses an unknown mailbox.

They write every message they accept to one file under the outbox folder (`.run/outbox/{sms,webhook,mail}/`), so a
new user sees exactly what a resident would get. `POST /_control {"status": 503}` makes the HTTP sink answer with
that status until `{"status": null}`: how an operator (or a test) plays a gateway outage.

    python -m cityline.sinks sms --port 39025 --out .run/outbox [--token T]
    python -m cityline.sinks smtp --port 39026 --out .run/outbox
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger("cityline.sinks")

_sequence = itertools.count(1)


def write_message(folder: Path, suffix: str, content: bytes) -> Path:
    """One file per message, named so that a listing is in arrival order; renamed into place when complete."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    path = folder / f"{stamp}-{os.getpid()}-{next(_sequence):06d}{suffix}"
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(content)
    partial.rename(path)
    return path


def http_sink(out: Path, token: str | None) -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="CityLine SMS gateway and webhook sink", docs_url=None, redoc_url=None)
    failing: dict[str, int | None] = {"status": None}

    def refusal() -> JSONResponse | None:
        if failing["status"] is not None:
            return JSONResponse({"error": "the sink is told to fail"}, status_code=failing["status"])
        return None

    async def keep(request: Request, folder: Path) -> dict[str, Any]:
        body = await request.body()
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode(errors="replace")
        record = {
            "received_at": datetime.now(UTC).isoformat(),
            "path": request.url.path,
            "headers": {
                key: value
                for key, value in request.headers.items()
                if key.lower().startswith("x-cityline") or key.lower() == "idempotency-key"
            },
            "payload": payload,
        }
        path = write_message(folder, ".json", json.dumps(record, ensure_ascii=False, indent=2).encode())
        return {"accepted": True, "id": path.stem}

    @app.post("/sms")
    async def sms(request: Request) -> Any:
        if token and request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "bad or missing token"}, status_code=401)
        return refusal() or await keep(request, out / "sms")

    @app.post("/webhook/{channel}")
    async def webhook(channel: str, request: Request) -> Any:
        return refusal() or await keep(request, out / "webhook" / channel)

    @app.post("/_control")
    async def control(request: Request) -> dict[str, Any]:
        failing["status"] = (await request.json()).get("status")
        logger.warning("answering with %s from now on", failing["status"] or "success")
        return failing

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "failing": failing["status"]}

    return app


UNKNOWN_MAILBOX = "no-such-"


class MailSink:
    """aiosmtpd handler: accept, or refuse like a real server, and keep each message as an .eml file."""

    def __init__(self, out: Path) -> None:
        self.out = out

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        if address.lower().startswith(UNKNOWN_MAILBOX):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        content = envelope.original_content or envelope.content
        write_message(self.out / "mail", ".eml", content if isinstance(content, bytes) else content.encode())
        return "250 Message accepted for delivery"


async def serve_smtp(port: int, out: Path) -> None:
    from aiosmtpd.smtp import SMTP

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(MailSink(out), hostname="cityline-sink", decode_data=False), "127.0.0.1", port
    )
    logger.warning("SMTP sink on 127.0.0.1:%d writing to %s", port, out / "mail")
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cityline.sinks", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("sms", "smtp"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the outbox folder")
    parser.add_argument("--token", default=None, help="SMS gateway: the bearer token to require")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.kind == "smtp":
        asyncio.run(serve_smtp(args.port, args.out))
        return
    import uvicorn

    uvicorn.run(http_sink(args.out, args.token), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
