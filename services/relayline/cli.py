"""`relayline`: one command for every process.

relayline up                  Redis (embedded unless REDIS_URL), one edge, one worker per
                              default pool, the built UI: http://127.0.0.1:8000
relayline edge [--host --port]
relayline worker --pool NAME  one pool per process; start more to scale
relayline redis [--port]      an embedded redis-server with AOF, in the foreground
relayline pools               the configured pools
relayline dead list|show|replay|drop --pool NAME [--id JOB]
                              a pool's dead-lettered jobs; replay runs one again
"""

import argparse
import logging
import os
import sys
from pathlib import Path

MAXMEMORY = "1gb"
EDGE_GRACEFUL_SHUTDOWN_SECONDS = 5
"""On SIGTERM an edge closes its WebSockets (1001), then gives open HTTP requests this long
(a Kubernetes pod's termination grace must cover it: infra/k8s/README.md)."""


def _configure_logging() -> None:
    level = os.environ.get("RELAYLINE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_edge(args: argparse.Namespace) -> int:
    import gc
    import socket

    import uvicorn

    from contracts.telemetry import configure as configure_tracing
    from edge.main import create_app, going_away
    from edge.protocol import FD_RESERVE, Backlog, edge_http_protocol, fit_fd_limit
    from edge.settings import Settings
    from edge.wsframes import EdgeWebSocketProtocol

    configure_tracing("relayline-edge")
    settings = Settings()
    app = create_app(settings)
    # Every client connection holds a descriptor, and so does each Redis connection.
    max_connections = fit_fd_limit(
        settings.max_connections, FD_RESERVE + settings.redis_max_connections
    )

    backlog = Backlog()

    class EdgeServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            backlog.listen_on([each for server in self.servers for each in server.sockets])

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await going_away(app)
            backlog.close()  # then uvicorn stops listening
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=os.environ.get("RELAYLINE_LOG_LEVEL", "info").lower(),
        ws_max_size=1 << 20,
        # No permessage-deflate, which browsers always accept: it compresses each message in
        # the event loop, and one large `job-end` (an embeddings output of 16 MB) would stall
        # every client of the edge for over a second.
        ws_per_message_deflate=False,
        # uvicorn's sans-I/O websockets protocol, offering the app a writer of whole frames:
        # an event's frame is built once for all its watchers (edge/wsframes.py).
        ws=EdgeWebSocketProtocol,
        timeout_graceful_shutdown=EDGE_GRACEFUL_SHUTDOWN_SECONDS,
        # A read deadline and a connection cap (edge/protocol.py); not `limit_concurrency`,
        # which neither sees sockets that send no headers nor applies to WebSockets.
        http=edge_http_protocol(
            max_connections,
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
            settings.max_header_bytes,
            backlog,
        ),
    )
    # What start-up made (modules, the app) lives as long as the process: frozen, no
    # collection walks it again, and the collections a large body's parse sets off walk
    # only what requests made (with `edge.limits.BodyTurns`' pause, a 0.5 MB body of
    # small arrays costs 0.02 s of CPU instead of 0.26 s: docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    EdgeServer(config).run()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import time

    import uvloop

    from contracts.telemetry import configure as configure_tracing
    from worker.app import create_worker
    from worker.settings import Settings

    configure_tracing("relayline-worker")
    settings = Settings(pool=args.pool) if args.pool else Settings()
    if args.concurrency:
        settings.concurrency = args.concurrency
    while True:
        app = create_worker(settings)
        uvloop.run(app.run())  # the edge's loop too (uvicorn's default where uvloop is installed)
        if app.signalled:
            return 0
        logging.getLogger("relayline.worker").warning(
            "the worker stopped without a signal (see above); starting it again"
        )
        time.sleep(1)


def cmd_redis(args: argparse.Namespace) -> int:
    from relayline.redis_server import start_redis

    server = start_redis(Path(args.dir), args.port, maxmemory=args.maxmemory)
    print(f"redis ready at {server.url} (data in {args.dir})", flush=True)
    try:
        return server.process.wait()
    except KeyboardInterrupt:
        server.stop()
        return 0


def cmd_pools(_: argparse.Namespace) -> int:
    from contracts.pools import DEFAULT_POOLS_FILE, load_pools

    path = Path(os.environ.get("RELAYLINE_POOLS", DEFAULT_POOLS_FILE))
    for pool in load_pools(path).pools.values():
        default = "default" if pool.default else ""
        print(f"{pool.name:12} {pool.kind:10} {pool.engine:12} {pool.model:30} {default}")
    return 0


def cmd_dead(args: argparse.Namespace) -> int:
    from relayline import dead

    return dead.run(args)


def cmd_up(args: argparse.Namespace) -> int:
    from relayline.supervisor import StackOptions, run_stack

    return run_stack(
        StackOptions(
            host=args.host,
            port=args.port,
            state_dir=Path(args.state_dir),
            redis_port=args.redis_port,
            redis_maxmemory=args.redis_maxmemory,
        )
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="relayline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="the whole stack on this machine")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument(
        "--port", type=int, default=os.environ.get("RELAYLINE_PORT", "8000"), help="(8000)"
    )
    up.add_argument("--state-dir", default=os.environ.get("RELAYLINE_STATE_DIR", ".state"))
    up.add_argument(
        "--redis-port", type=int, help="embedded Redis port (default 6379, or a free one)"
    )
    up.add_argument(
        "--redis-maxmemory",
        default=os.environ.get("RELAYLINE_REDIS_MAXMEMORY", MAXMEMORY),
        help=f"memory cap of the embedded Redis; a full Redis refuses new jobs ({MAXMEMORY})",
    )
    up.set_defaults(run=cmd_up)

    edge = commands.add_parser("edge", help="one edge process (HTTP, WebSocket, SSE)")
    edge.add_argument("--host", default="127.0.0.1")
    edge.add_argument("--port", type=int, default=8000)
    edge.set_defaults(run=cmd_edge)

    worker = commands.add_parser("worker", help="one worker process of one pool")
    worker.add_argument("--pool", help="the pool to serve (default: WORKER_POOL)")
    worker.add_argument("--concurrency", type=int, help="jobs at once (default: the pool's)")
    worker.set_defaults(run=cmd_worker)

    redis = commands.add_parser("redis", help="an embedded redis-server with AOF")
    redis.add_argument("--port", type=int, default=6379)
    redis.add_argument("--dir", default=".state/redis")
    redis.add_argument("--maxmemory", default=MAXMEMORY, help=f"({MAXMEMORY})")
    redis.set_defaults(run=cmd_redis)

    pools = commands.add_parser("pools", help="list the configured pools")
    pools.set_defaults(run=cmd_pools)
    dead = commands.add_parser("dead", help="a pool's dead-lettered jobs: list, show, replay, drop")
    dead.add_argument("action", choices=("list", "show", "replay", "drop"))
    dead.add_argument("--pool", required=True, help="the pool whose dead letters to act on")
    dead.add_argument("--id", help="a job id or a dead-letter entry id (show, replay, drop)")
    dead.add_argument("--json", action="store_true", help="list: one JSON object per line")
    dead.set_defaults(run=cmd_dead)
    return root


def main(argv: list[str] | None = None) -> int:
    _configure_logging()
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
