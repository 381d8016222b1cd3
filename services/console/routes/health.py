"""/health and /ready, as every service answers them: alive, and able to serve (the store answers in time and the
queues in memory are built)."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

router = APIRouter()

# /ready waits this long for the store: an orchestrator's probe must not hang.
READY_PROBE_TIMEOUT_S = 1.5


@router.get("/health", include_in_schema=False)
async def health() -> JSONResponse:
    """Alive: the process answers. What it waits for is /ready's business."""
    return JSONResponse({"service": "console", "status": "alive"})


@router.get("/ready", include_in_schema=False)
async def ready(request: Request) -> JSONResponse:
    reasons = []
    try:
        await asyncio.wait_for(request.app.state.store.db.command("ping"), READY_PROBE_TIMEOUT_S)
    except (PyMongoError, TimeoutError):
        reasons.append(f"the store does not answer within {READY_PROBE_TIMEOUT_S} s")
    if not request.app.state.queues.built:
        reasons.append("the queues are still being read from the store")
    body = {"service": "console", "ready": not reasons, "reasons": reasons}
    headers = {"retry-after": "5"} if reasons else {}
    return JSONResponse(body, status_code=503 if reasons else 200, headers=headers)
