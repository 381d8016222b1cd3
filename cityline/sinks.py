"""Local stand-ins for the outside world the notifier talks to, started by `cityline up` (and the tests' stack):

- `sms`: an HTTP SMS gateway (POST /sms one message, POST /sms/batch many, each answered for; bearer token
  optional) that also takes app channels' webhooks
  (POST /webhook/<channel>) and passes residents' SMS replies (POST /sms/inbound) on to intake;
- `smtp`: an SMTP server (aiosmtpd) that accepts mail, and refuses mailboxes whose name starts with `no-such-`
  (`no-such-user@example.com`) as a real server refuses an unknown mailbox.

They write every message they accept to one file under the outbox folder (`.run/outbox/{sms,webhook,mail}/`), so a
new user sees exactly what a resident would get. `POST /_control {"status": 503}` makes the HTTP sink answer with
that status until `{"status": null}`: how an operator (or a test) plays a gateway outage; `{"refuse": ["+380…"]}`
makes it refuse those numbers (a 400 alone, a `rejected` result inside a batch); `{"delay_s": 10}` holds every answer
that long (a gateway that hangs; `/health` says how many requests it is holding). Like a gateway that takes the
message's reference as its idempotency key, the SMS sink sends a reference once: a repeat is answered `accepted` (with
`"duplicate": true`) and kept under `sms-repeats/` instead, so a resident gets one SMS and a test can count repeats.

    python -m cityline.sinks sms --port 39025 --out .run/outbox [--token T]
    python -m cityline.sinks smtp --port 39026 --out .run/outbox
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import uuid
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


def http_sink(out: Path, token: str | None, inbound_url: str | None = None, inbound_secret: str | None = None) -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="CityLine SMS gateway and webhook sink", docs_url=None, redoc_url=None)
    failing: dict[str, float | None] = {"status": None, "delay_s": 0.0}
    # Numbers the gateway refuses (answered per message in a batch, 400 for a single message): `_control` sets them.
    refused: set[str] = set()
    # References already sent (for this sink's lifetime), and requests being held by `delay_s`.
    sent_references: set[str] = set()
    holding = {"requests": 0}

    async def refusal() -> JSONResponse | None:
        if failing["delay_s"]:
            holding["requests"] += 1
            try:
                await asyncio.sleep(failing["delay_s"])
            finally:
                holding["requests"] -= 1
        if failing["status"] is not None:
            return JSONResponse({"error": "the sink is told to fail"}, status_code=int(failing["status"]))
        return None

    def kept_headers(request: Request) -> dict[str, str]:
        return {
            key: value
            for key, value in request.headers.items()
            if key.lower().startswith("x-cityline") or key.lower() == "idempotency-key"
        }

    def keep_payload(request: Request, folder: Path, payload: Any, **extra: Any) -> Path:
        record = {
            "received_at": datetime.now(UTC).isoformat(),
            "path": request.url.path,
            "headers": kept_headers(request),
            "payload": payload,
            **extra,
        }
        return write_message(folder, ".json", json.dumps(record, ensure_ascii=False, indent=2).encode())

    async def keep(request: Request, folder: Path) -> dict[str, Any]:
        body = await request.body()
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode(errors="replace")
        return {"accepted": True, "id": keep_payload(request, folder, payload).stem}

    def keep_sms(request: Request, message: Any, **extra: Any) -> dict[str, Any]:
        """One SMS, sent once per reference: a repeat is accepted and kept aside."""
        reference = message.get("reference") if isinstance(message, dict) else None
        reference = reference or request.headers.get("idempotency-key")
        repeat = reference is not None and reference in sent_references
        path = keep_payload(request, out / ("sms-repeats" if repeat else "sms"), message, **extra)
        if reference is not None:
            sent_references.add(reference)
        return {
            "reference": reference,
            "status": "accepted",
            "id": path.stem,
            **({"duplicate": True} if repeat else {}),
        }

    def unauthorized(request: Request) -> JSONResponse | None:
        if token and request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "bad or missing token"}, status_code=401)
        return None

    @app.post("/sms")
    async def sms(request: Request) -> Any:
        # Taken first, answered after the delay: a sender that dies meanwhile has still sent the message.
        body = await request.body()
        if problem := unauthorized(request) or await refusal():
            return problem
        try:
            message = json.loads(body)
            to = message.get("to")
        except (ValueError, AttributeError):
            return await keep(request, out / "sms")
        if to in refused:
            return JSONResponse({"error": f"destination {to} refused"}, status_code=400)
        return {"accepted": True, **keep_sms(request, message)}

    @app.post("/sms/batch")
    async def sms_batch(request: Request) -> Any:
        """`{"messages": [message, ...]}`; answers `{"messages": [{"status": "accepted"|"rejected", ...}, ...]}` in
        the request's order, keeping each accepted message as its own file."""
        await request.body()  # taken before the delay, as a single message is
        if problem := unauthorized(request) or await refusal():
            return problem
        try:
            messages = (await request.json())["messages"]
            assert isinstance(messages, list) and all(isinstance(message, dict) for message in messages)
        except (ValueError, KeyError, TypeError, AssertionError):
            return JSONResponse({"error": 'expected {"messages": [{...}, ...]}'}, status_code=400)
        batch = uuid.uuid4().hex
        results = []
        for message in messages:
            reference = message.get("reference")
            if not message.get("to") or not message.get("text"):
                results.append({"reference": reference, "status": "rejected", "error": "'to' and 'text' needed"})
            elif message["to"] in refused:
                results.append({"reference": reference, "status": "rejected", "error": "destination refused"})
            else:
                results.append(keep_sms(request, message, batch=batch))
        return {"batch": batch, "messages": results}

    @app.post("/webhook/{channel}")
    async def webhook(channel: str, request: Request) -> Any:
        return await refusal() or await keep(request, out / "webhook" / channel)

    @app.post("/sms/inbound")
    async def sms_inbound(request: Request) -> Any:
        """A resident's SMS to the city's number ({"from": "+380…", "text": "2 досі не працює"}): kept under
        `sms-inbound/` and passed on to intake's inbound webhook with the gateway's secret, as a gateway does."""
        import httpx

        message = await request.json()
        keep_payload(request, out / "sms-inbound", message)
        if not inbound_url:
            return JSONResponse({"detail": "no inbound webhook configured (--inbound-url)"}, status_code=503)
        payload = {"message_id": str(uuid.uuid4()), **message}
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                inbound_url, json=payload, headers={"X-CityLine-Gateway-Secret": inbound_secret or ""}
            )
        return JSONResponse(answer.json(), status_code=answer.status_code)

    @app.post("/_control")
    async def control(request: Request) -> dict[str, Any]:
        """`{"status": 503}` fails every request until `{"status": null}`; `{"refuse": ["+380..."]}` refuses those
        destinations (each alone, also inside a batch) until `{"refuse": []}`; `{"delay_s": 10}` holds each answer."""
        command = await request.json()
        if "status" in command:
            failing["status"] = command["status"]
            logger.warning("answering with %s from now on", failing["status"] or "success")
        if "delay_s" in command:
            failing["delay_s"] = float(command["delay_s"] or 0)
        if "refuse" in command:
            refused.clear()
            refused.update(command["refuse"] or ())
            logger.warning("refusing %s from now on", sorted(refused) or "no destination")
        return {**failing, "refuse": sorted(refused)}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "failing": failing["status"], "holding": holding["requests"]}

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


async def serve_smtp(port: int, out: Path, host: str = "127.0.0.1") -> None:
    from aiosmtpd.smtp import SMTP

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(MailSink(out), hostname="cityline-sink", decode_data=False), host, port
    )
    logger.warning("SMTP sink on %s:%d writing to %s", host, port, out / "mail")
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cityline.sinks", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("sms", "smtp"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the outbox folder")
    parser.add_argument("--token", default=None, help="SMS gateway: the bearer token to require")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    parser.add_argument("--inbound-url", default=None, help="SMS gateway: where residents' replies go (intake)")
    parser.add_argument("--inbound-secret", default=None, help="SMS gateway: the secret sent with each reply")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.kind == "smtp":
        asyncio.run(serve_smtp(args.port, args.out, args.host))
        return
    import uvicorn

    sink = http_sink(args.out, args.token, args.inbound_url, args.inbound_secret)
    uvicorn.run(sink, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
