"""The intake API's error answers: the native API's {"detail"}, Open311's [{code, description}], chosen by path."""

import logging
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake.open311 import Open311Error
from shared.errors import REQUEST_PARTS, TransientError, describe_issues
from shared.http_guard import RETRY_AFTER_S, UNAVAILABLE

logger = logging.getLogger(__name__)

OPEN311 = "/open311/v2"


def error_response(path: str, status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    if path.startswith(OPEN311):
        status = 403 if status == 401 else status  # the spec's answer for a missing or invalid api_key
        description = detail if isinstance(detail, str) else _described(detail)
        return JSONResponse([{"code": status, "description": description}], status_code=status, headers=headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _described(issues: Any) -> str:
    if not all(isinstance(issue, dict) for issue in issues):
        return "; ".join(str(issue) for issue in issues)
    return describe_issues(issues, whole="request", skip=REQUEST_PARTS)


async def on_open311_error(request: Request, error: Open311Error) -> JSONResponse:
    return error_response(OPEN311, error.code, error.description)


async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return error_response(request.url.path, error.status_code, error.detail, getattr(error, "headers", None))


async def on_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    issues = [{key: value for key, value in issue.items() if key in ("loc", "msg", "type")} for issue in error.errors()]
    status = 400 if request.url.path.startswith(OPEN311) else 422
    return error_response(request.url.path, status, issues)


async def on_deadline(request: Request, error: TimeoutError) -> JSONResponse:
    logger.error("over the deadline for %s", request.url.path)
    return error_response(request.url.path, 503, UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})


async def on_store_error(request: Request, error: Exception) -> JSONResponse:
    logger.error("store unavailable for %s: %s", request.url.path, type(error).__name__)
    detail = "the appeal store is not available right now; try again shortly"
    return error_response(request.url.path, 503, detail, {"Retry-After": str(RETRY_AFTER_S)})


async def on_broker_error(request: Request, error: KafkaError) -> JSONResponse:
    # The appeal is stored; the redrive job announces it later. The client's retry gets the same appeal.
    logger.error("broker unavailable for %s: %s", request.url.path, type(error).__name__)
    detail = "the appeal is stored but could not be passed on yet; retry with the same key to get its number"
    return error_response(request.url.path, 503, detail, {"Retry-After": str(RETRY_AFTER_S)})


def add_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(Open311Error, on_open311_error)
    api.add_exception_handler(StarletteHTTPException, on_http_error)
    api.add_exception_handler(RequestValidationError, on_invalid_request)
    api.add_exception_handler(TimeoutError, on_deadline)
    api.add_exception_handler(PyMongoError, on_store_error)
    api.add_exception_handler(TransientError, on_store_error)
    api.add_exception_handler(KafkaError, on_broker_error)
