"""Open311 GeoReport v2's formats: every endpoint answers in XML (the spec's default) as well as JSON.

`Open311Formats` is an ASGI middleware in front of the intake's API: a request for `<endpoint>.xml` is served by the
same `<endpoint>.json` route, and its JSON answer is written as the spec's XML (root and item elements named as the
spec's examples name them: <services><service>, <service_definition>, <service_requests><request>,
<errors><error>). So each endpoint is written once, and its two formats cannot differ.
"""

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

XML_TYPE = "text/xml; charset=utf-8"
# (pattern of the path after the Open311 root, root element, item element) for each endpoint; None: one object.
_ELEMENTS = [
    (re.compile(r"^/services$"), "services", "service"),
    (re.compile(r"^/services/[^/]+$"), "service_definition", None),
    (re.compile(r"^/(requests|requests/[^/]+|tokens/[^/]+)$"), "service_requests", "request"),
]
# Lists inside an object: <attributes><attribute>, <values><value>.
_LIST_ITEMS = {"attributes": "attribute", "values": "value"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _fill(element: Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(SubElement(element, _LIST_ITEMS.get(element.tag, "item")), item)
    else:
        element.text = _text(value)


def to_xml(endpoint: str, status: int, data: Any) -> bytes:
    """The JSON answer of an endpoint (the path after the Open311 root, without its format) as the spec's XML."""
    if status >= 400:
        root_name, item_name = "errors", "error"
    else:
        root_name, item_name = next(
            ((root, item) for pattern, root, item in _ELEMENTS if pattern.match(endpoint)), ("response", "item")
        )
    root = Element(root_name)
    if item_name is None or not isinstance(data, list):
        _fill(root, data)
    else:
        for item in data:
            _fill(SubElement(root, item_name), item)
    return b'<?xml version="1.0" encoding="utf-8"?>' + tostring(root, encoding="utf-8", xml_declaration=False)


class Open311Formats:
    def __init__(self, app: ASGIApp, root: str) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path.startswith(self.root + "/") and path.endswith(".xml")):
            await self.app(scope, receive, send)
            return
        endpoint = path[len(self.root) : -len(".xml")]
        json_path = path[: -len(".xml")] + ".json"
        inner = {**scope, "path": json_path, "raw_path": json_path.encode()}
        start: Message = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(inner, receive, capture)
        status = int(start.get("status", 500))
        headers = [(name, value) for name, value in start.get("headers", []) if name.lower() not in
                   (b"content-type", b"content-length")]  # fmt: skip
        try:
            content = to_xml(endpoint, status, json.loads(bytes(body))) if body else b""
        except ValueError:
            content = bytes(body)  # not JSON (never from these routes): passed on as it came
        headers += [(b"content-type", XML_TYPE.encode()), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
