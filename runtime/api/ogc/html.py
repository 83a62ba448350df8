"""Small HTML pages of the OGC resources, for a browser (the `html` conformance class).

Any JSON answer of a GET route is shown as nested lists, links as anchors, when the client asks
for HTML: `?f=html`, or an Accept header whose first choice is text/html (a browser's). The
JSON stays the one source: the page is built from it, so it says everything the JSON says.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

__all__ = ["as_html", "wants_html"]

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}dt{{font-weight:bold}}
dd{{margin:0 0 .4em 1.5em}}ul{{margin:.2em 0}}</style></head>
<body><h1>{title}</h1>{body}
<p><a href="?f=json">JSON</a></p></body></html>
"""


def wants_html(request: Request) -> bool:
    requested = request.query_params.get("f")
    if requested:
        return requested == "html"
    first = request.headers.get("accept", "").split(",")[0].split(";")[0].strip().lower()
    return first == "text/html"


def as_html(response: Response, title: str) -> Response:
    """The page of a JSON answer (other answers are returned as they are)."""
    if response.status_code != 200 or not response.headers.get("content-type", "") \
            .startswith("application/json"):
        return response
    document = json.loads(bytes(response.body))
    if isinstance(document, dict) and isinstance(document.get("title"), str):
        title = document["title"]
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=_render(document)))


def _render(value: Any, depth: int = 0) -> str:
    if depth > 20:
        return html.escape(json.dumps(value))
    if isinstance(value, dict):
        if isinstance(value.get("href"), str):
            return _link(value)
        items = "".join(f"<dt>{html.escape(str(key))}</dt><dd>{_render(item, depth + 1)}</dd>"
                        for key, item in value.items())
        return f"<dl>{items}</dl>"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_render(item, depth + 1)}</li>" for item in value) \
            + "</ul>"
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return f'<a href="{html.escape(value)}">{html.escape(value)}</a>'
    return html.escape(value if isinstance(value, str) else json.dumps(value))


def _link(link: dict[str, Any]) -> str:
    href = html.escape(link["href"])
    label = html.escape(str(link.get("title") or link.get("rel") or link["href"]))
    extra = {key: item for key, item in link.items() if key not in ("href", "title")}
    details = f" <small>{html.escape(json.dumps(extra))}</small>" if extra else ""
    return f'<a href="{href}">{label}</a>{details}'
