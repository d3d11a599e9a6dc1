"""The edge's submit without its framework, for the overhead bench (tests/bench/overhead.py).

`POST /v1/jobs` is answered by a bare ASGI callable that does only a submit's own work: the
caller found by its key, the body read and parsed into a `JobRequest`, `edge.jobs.submit_job`
(the checks of the job against its pool, the `SUBMIT` script), the `202` answer. There is no
FastAPI or Starlette routing and none of the edge's middleware: no origin checks, guards,
tickets, rate limits, tracing or error answers (a request it cannot serve gets uvicorn's
`500`). It is not a way to run Relayline: the bench runs it next to the edge to show how
much of the edge accept's cost is the submit's own work. It runs with the edge's settings
and application state (its Redis pool, script batch and job store, made by the edge app's
own start-up), on uvicorn as the do-nothing endpoint runs (tests/bench/baselines.py). Every
other request is a `404`.

    python -m tests.bench.bare_submit PORT   (the edge's settings from the environment)
"""

import argparse
import gc

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.jobs import JobRequest
from edge.identity import resolve_user
from edge.jobs import submit_job
from edge.main import create_app
from edge.settings import Settings


def bare_submit(settings: Settings) -> ASGIApp:
    app = create_app(settings)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the edge's start-up: Redis, the job store
            await app(scope, receive, send)
            return
        if scope["type"] != "http" or (scope["method"], scope["path"]) != ("POST", "/v1/jobs"):
            await _answer(send, 404, b"")
            return
        state = app.state.edge
        user = resolve_user(scope, state.api_keys, state.settings.guest_mode)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request = JobRequest.model_validate_json(body)
        accepted = (await submit_job(state, user, request)).accepted
        await _answer(send, 202, accepted.model_dump_json().encode())

    return serve


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bare_submit")
    parser.add_argument("port", type=int)
    port = parser.parse_args().port
    app = bare_submit(Settings())
    gc.collect()
    gc.freeze()  # as `relayline edge` does
    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="auto", http="httptools", log_level="warning"
    )


if __name__ == "__main__":
    main()
