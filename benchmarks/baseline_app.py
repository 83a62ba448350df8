"""The baselines the runtime is measured against: a bare FastAPI app doing the same work.

POST /noop answers {} and POST /echo sends the request body back, with no validation, no queue
and no worker process: the cost of HTTP + FastAPI alone. POST /hop answers {} after a round
trip to one worker process over a pipe (the loop reads the answer with add_reader): the cost of
HTTP + FastAPI + the process hop that isolates algorithm code, with nothing else of the runtime.
"""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response

_hop: dict = {}


def _hop_worker(jobs, answers) -> None:
    """The worker side of /hop: answer every message at once."""
    while True:
        try:
            jobs.recv_bytes()
        except EOFError:
            return
        answers.send_bytes(b"{}")


@asynccontextmanager
async def lifespan(_app: FastAPI):
    context = multiprocessing.get_context("spawn")
    jobs_out, jobs_in = context.Pipe(duplex=False)
    answers_out, answers_in = context.Pipe(duplex=False)
    process = context.Process(target=_hop_worker, args=(jobs_out, answers_in), daemon=True)
    process.start()
    waiting: collections.deque[asyncio.Future] = collections.deque()

    def on_answer() -> None:
        while answers_out.poll():
            answers_out.recv_bytes()
            waiting.popleft().set_result(None)

    loop = asyncio.get_running_loop()
    loop.add_reader(answers_out.fileno(), on_answer)
    _hop.update(jobs=jobs_in, waiting=waiting, loop=loop)
    yield
    loop.remove_reader(answers_out.fileno())
    process.kill()


app = FastAPI(lifespan=lifespan)


@app.post("/noop")
async def noop() -> dict:
    return {}


@app.post("/hop")
async def hop() -> dict:
    future = _hop["loop"].create_future()
    _hop["waiting"].append(future)
    _hop["jobs"].send_bytes(b"noop")
    await future
    return {}


@app.post("/echo")
async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")
