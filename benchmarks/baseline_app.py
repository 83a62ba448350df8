"""The baseline the runtime is measured against: a bare FastAPI app doing the same work.

POST /noop answers {} and POST /echo sends the request body back, with no validation, no queue
and no worker process: the cost of HTTP + FastAPI alone.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()


@app.post("/noop")
async def noop() -> dict:
    return {}


@app.post("/echo")
async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")
