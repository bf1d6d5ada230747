"""`civicflow dev`: bring the whole stack up in the right order and down in the reverse one.

Up: check ports, start the Temporal dev server (state in `<state_dir>/temporal.db`), start the
mail sink (mails as .eml files in `<state_dir>/mail/`) and point the worker's mail sender at
it; with payload keys configured (`CIVICFLOW_PAYLOAD_KEYS` or `_FILE`), start the codec server
and give its URL to the Web UI, so encrypted payloads show in clear there; start or reuse
PostgreSQL, wait for Temporal, migrate, start the worker, the public
transparency site (`civicflow web`, on the worker's pool) and the demo workflow, print where
everything is. Down (Ctrl-C / SIGTERM): drain the worker, close the pool,
stop the Temporal server and wait for it, stop the codec server, stop embedded PostgreSQL,
stop the mail sink. State
survives for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

import definitions
from worker.binaries import temporal_cli
from worker.client import payload_codec
from worker.codec import EncryptionCodec
from worker.codec_server import load_codec_server_settings
from worker.codec_server import serve as serve_codec
from worker.config import load_settings
from worker.devstack.mailsink import MailSink
from worker.devstack.ports import check_ports_free
from worker.devstack.postgres import start_embedded_postgres
from worker.devstack.temporal_server import TemporalDevServer
from worker.run import run_until_stopped, worker_services
from worker.web.server import serve as serve_site
from worker.web.settings import WebSettings
from workflows.messages import procedure_workflow_id
from workflows.skeleton import SkeletonInput, SkeletonWorkflow
from workflows.visibility import ALL_SEARCH_ATTRIBUTES

__all__ = ["DEMO_PROCEDURE_ID", "DEMO_WORKFLOW_ID", "DevOptions", "run_dev", "start_demo"]

log = structlog.get_logger("civicflow.dev")

DEMO_WORKFLOW_ID = "civicflow-demo-skeleton"


@dataclass(frozen=True)
class DevOptions:
    """Where the dev stack keeps its state and which ports it binds (all on `host`)."""

    state_dir: Path = Path(".civicflow")
    host: str = "127.0.0.1"
    grpc_port: int = 7233
    ui_port: int = 8233
    http_port: int = 7243
    metrics_port: int = 9464
    mail_port: int = 1025
    web_port: int = 8080
    codec_port: int = 8081
    """The codec server's; used only when payload keys are configured."""
    database_url: str | None = field(
        default_factory=lambda: os.environ.get("CIVICFLOW_DATABASE_URL") or None
    )


async def _start_once(client: Client, start: Callable[[], Awaitable[Any]]) -> bool:
    """Run `start`; False if that workflow id already exists (in any state)."""
    try:
        await start()
    except WorkflowAlreadyStartedError:
        return False
    return True


def example_input(name: str) -> dict[str, Any]:
    """A committed example start input (`definitions/examples/<name>.json`)."""
    example = Path(definitions.__file__).parent / "examples" / f"{name}.json"
    loaded: dict[str, Any] = json.loads(example.read_text(encoding="utf-8"))
    return loaded


def _example_id(start: dict[str, Any]) -> str:
    # The engine insists on the id its input implies (municipality and file reference).
    return procedure_workflow_id(start["municipality"], start["reference"])


# The BauGB §3(2) example runs from the first `make dev` on, so the Web UI and the public site
# show a real procedure; the banner offers the §4(2) one to start by hand.
_DEMO = example_input("baugb-3-2")
DEMO_PROCEDURE_ID = _example_id(_DEMO)
_ANOTHER_EXAMPLE = "baugb-4-2"
_ANOTHER_ID = _example_id(example_input(_ANOTHER_EXAMPLE))


async def start_demo(client: Client, task_queue: str) -> bool:
    """Start the demo workflows once per state dir (a Skeleton and a real Procedure);
    False if they already existed (any state)."""
    skeleton = await _start_once(
        client,
        lambda: client.start_workflow(
            SkeletonWorkflow.run,
            SkeletonInput(message="hello from civicflow dev"),
            id=DEMO_WORKFLOW_ID,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        ),
    )
    procedure = await _start_once(
        client,
        lambda: client.start_workflow(
            "Procedure",
            _DEMO,
            id=DEMO_PROCEDURE_ID,
            task_queue=task_queue,
            static_summary=_DEMO["title"],
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        ),
    )
    return skeleton or procedure


def _shown(path: Path) -> str:
    """`path` relative to the working directory when inside it: shorter to copy."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _mail_line(sink: MailSink, relay: str | None) -> str:
    """Where the worker's mail goes: the sink (and how many mails it keeps), or the relay
    CIVICFLOW_SMTP_HOST named."""
    if relay:
        return f"  Mail             to CIVICFLOW_SMTP_HOST={relay} (the sink {sink.url} is idle)"
    kept = len(sink.saved())
    return f"  Mail sink        {sink.url} -> {_shown(sink.directory)}/ ({kept} kept, .eml files)"


def _payloads_line(codec: EncryptionCodec | None, codec_url: str | None) -> str:
    """Whether payloads are encrypted, and where the Web UI decodes them."""
    if codec is None or codec_url is None:
        return "  Payloads         not encrypted (CIVICFLOW_PAYLOAD_KEYS or _FILE turns it on)"
    keys = ", ".join(codec.key_ids)
    return (
        f"  Codec server     {codec_url} (payloads encrypted, current key "
        f"{codec.current_key_id}, keys {keys}; the Web UI decodes through it)"
    )


def banner(
    server: TemporalDevServer,
    metrics_url: str | None,
    database: str,
    task_queue: str,
    mail: str | None = None,
    site_url: str | None = None,
    payloads: str | None = None,
) -> str:
    """What a newcomer needs after `make dev`: where things are and one command to try."""
    cli = shlex.quote(_shown(server.binary))
    address = server.address
    start = (
        f"{cli} workflow start --address {address} --task-queue {task_queue} "
        f'--type Skeleton --workflow-id hello-1 --input \'{{"message": "hello"}}\''
    )
    procedure = (
        f"{cli} workflow start --address {address} --task-queue {task_queue} "
        f"--type Procedure --workflow-id {_ANOTHER_ID} "
        f"--input-file definitions/examples/{_ANOTHER_EXAMPLE}.json"
    )
    return "\n".join(
        [
            "",
            "civicflow dev is up.",
            f"  Temporal Web UI  {server.ui_url}",
            f"  Temporal gRPC    {address}   HTTP API http://{server.host}:{server.http_port}",
            *([f"  Public site      {site_url}"] if site_url is not None else []),
            f"  Metrics          {metrics_url or '(disabled)'}",
            f"  PostgreSQL       {database}",
            *([mail] if mail is not None else []),
            *([payloads] if payloads is not None else []),
            f"  State            {_shown(server.db_file.parent)}/ (kept between runs)",
            "",
            "Start a workflow:",
            f"  {start}",
            "Then look at it:",
            f"  {cli} workflow list --address {address}",
            f"  {cli} workflow result --address {address} --workflow-id hello-1",
            f"The demo procedure {DEMO_PROCEDURE_ID} (BauGB §3(2)) is running:",
            f"  {cli} workflow describe --address {address} --workflow-id {DEMO_PROCEDURE_ID}",
            *([f"  {site_url}/procedures/{DEMO_PROCEDURE_ID}"] if site_url is not None else []),
            "Start another (BauGB §4(2), public authorities; README: For administrators):",
            f"  {procedure}",
            "",
            "Ctrl-C stops everything.",
            "",
        ]
    )


@contextlib.contextmanager
def _smtp_settings(sink: MailSink) -> Iterator[None]:
    """Point the worker's mail sender (`mail_sender_from_env`) at the sink while the stack
    runs, unless CIVICFLOW_SMTP_HOST chose a server; restore the environment afterwards."""
    if os.environ.get("CIVICFLOW_SMTP_HOST"):
        yield
        return
    saved = {name: os.environ.get(name) for name in sink.smtp_settings()}
    os.environ.update(sink.smtp_settings())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _started(task: asyncio.Task[None], ready: asyncio.Future[str], what: str) -> str:
    """A server's URL once it accepts requests; its start-up error if it failed first."""
    either: set[asyncio.Future[Any]] = {task, ready}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        return ready.result()
    task.result()  # raises the start-up error (e.g. PortInUseError)
    msg = f"the {what} stopped before it was ready"
    raise RuntimeError(msg)


def dev_ports(options: DevOptions, *, codec: bool) -> dict[str, tuple[int, str]]:
    """The ports the stack binds, {purpose: (port, flag)}; the codec server's only with keys."""
    ports = {
        "Temporal gRPC": (options.grpc_port, "--grpc-port"),
        "Temporal Web UI": (options.ui_port, "--ui-port"),
        "Temporal HTTP API": (options.http_port, "--http-port"),
        "metrics": (options.metrics_port, "--metrics-port"),
        "mail sink (SMTP)": (options.mail_port, "--mail-port"),
        "public site": (options.web_port, "--web-port"),
    }
    if codec:
        ports["codec server"] = (options.codec_port, "--codec-port")
    return ports


async def _start_codec_server(
    options: DevOptions, codec: EncryptionCodec, stack: contextlib.AsyncExitStack
) -> str:
    """Serve the codec for the dev Web UI (its origin allowed, no token: loopback only) until
    `stack` closes; its URL once it accepts requests."""
    ui_origins = f"http://{options.host}:{options.ui_port},http://localhost:{options.ui_port}"
    settings = load_codec_server_settings(
        host=options.host, port=options.codec_port, cors_origins=ui_origins
    ).model_copy(update={"token": None})  # the dev UI has no single sign-on to pass one
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_codec(settings, codec, stop, ready=ready.set_result), name="civicflow-dev-codec"
    )

    async def stop_codec() -> None:
        stop.set()
        await task

    stack.push_async_callback(stop_codec)
    return await _started(task, ready, "codec server")


async def run_dev(
    options: DevOptions, stop: asyncio.Event, out: Callable[[str], None] = print
) -> None:
    """Run the stack until `stop` is set; always stop what was started."""
    # Keys from the environment (or a secret file): with them the UI needs the codec server.
    codec = payload_codec(load_settings())
    check_ports_free(options.host, dev_ports(options, codec=codec is not None))
    state_dir = options.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    server = TemporalDevServer(
        binary=temporal_cli(),
        db_file=state_dir / "temporal.db",
        log_file=state_dir / "temporal.log",
        host=options.host,
        grpc_port=options.grpc_port,
        ui_port=options.ui_port,
        http_port=options.http_port,
        search_attributes=ALL_SEARCH_ATTRIBUTES,
    )
    sink = MailSink(state_dir / "mail", host=options.host, port=options.mail_port)
    async with contextlib.AsyncExitStack() as stack:
        await sink.start()
        stack.push_async_callback(sink.stop)
        relay = os.environ.get("CIVICFLOW_SMTP_HOST") or None
        stack.enter_context(_smtp_settings(sink))
        codec_url = None
        if codec is not None:
            codec_url = await _start_codec_server(options, codec, stack)
            server.ui_codec_endpoint = codec_url
        server.start()
        stack.push_async_callback(server.stop)
        log.info("temporal dev server starting", pid=server.pid, address=server.address)
        if options.database_url:
            database_url, database = options.database_url, "from CIVICFLOW_DATABASE_URL"
        else:
            pg_dir = state_dir / "pgdata"
            database_url, stop_postgres = await asyncio.to_thread(start_embedded_postgres, pg_dir)
            stack.callback(stop_postgres)
            database = f"embedded (pgserver), data in {_shown(pg_dir)}"
        settings = load_settings(
            temporal_address=server.address,
            database_url=database_url,
            metrics_host=options.host,
            metrics_port=options.metrics_port,
        )
        await server.wait_ready()
        async with worker_services(settings, migrate=True) as services:
            site_ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            site = asyncio.create_task(
                serve_site(
                    WebSettings(
                        host=options.host,
                        port=options.web_port,
                        database_url=database_url,
                        database_schema=settings.database_schema,
                    ),
                    stop,
                    pool=services.pool,
                    ready=site_ready.set_result,
                ),
                name="civicflow-dev-site",
            )
            try:
                site_url = await _started(site, site_ready, "public site")
                started = await start_demo(services.client, settings.task_queue)
                log.info(
                    "demo workflows",
                    workflow_ids=[DEMO_WORKFLOW_ID, DEMO_PROCEDURE_ID],
                    started_now=started,
                )
                mail = _mail_line(sink, relay)
                out(
                    banner(
                        server,
                        services.metrics_url,
                        database,
                        settings.task_queue,
                        mail,
                        site_url,
                        _payloads_line(codec, codec_url),
                    )
                )
                await run_until_stopped(services.worker, stop, services.background)
            finally:
                stop.set()
                await site
        log.info("stopping temporal dev server", pid=server.pid)
