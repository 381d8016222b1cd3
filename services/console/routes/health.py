"""/health: the console answers, and whether the store does (the other services have their own /health)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

router = APIRouter()


@router.get("/health", include_in_schema=False)
async def health(request: Request) -> JSONResponse:
    try:
        await request.app.state.store.db.command("ping")
        store = "ok"
    except PyMongoError:
        store = "unavailable"
    ready = store == "ok"
    body = {"service": "console", "status": "ok" if ready else "starting", "ready": ready, "store": store}
    return JSONResponse(body, status_code=200 if ready else 503)
