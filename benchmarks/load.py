"""Open-loop load on the real service: latency per endpoint per rate, on PostgreSQL with the demo.

One command prepares the database (migrates it, seeds the demo if it is
empty), makes API tokens, starts ``truchement serve --workers N`` on a free
port, and sends requests at fixed rates whatever the server does: request
``i`` of a step is due at ``i / rate`` seconds, is sent then (never later
because an earlier one is slow), and its latency counts from when it was due,
so a server that falls behind shows it. Each step prints, per endpoint, the
requests sent, their statuses, and p50/p95/p99 in milliseconds; a probe
reads ``/health`` every 100 ms beside the load and reports its worst
latency and misses. Beside them: the latency of the accepted (2xx) answers
alone, the time the server's process itself took (its ``Server-Timing``
header; the rest was spent in front of it), and the CPU used per request by
the server, its PostgreSQL backends and the generator (steadier than latency
on a shared machine). At the end: the first rate at which each scenario's
p99 passes 50 ms. The load goes through a minimal keep-alive HTTP/1.1 client
(``RawClient``): httpx cost more CPU per request than the server.

    .venv/bin/python benchmarks/load.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/truchement_load

Scenarios (``--scenario NAME:RATE,RATE,...``, repeatable): ``mixed`` (list 4
: read 4 : create 1 : candidates 1), ``read`` (one booking), ``list``,
``health``. ``--base-url`` measures a server already running instead (with
``--dispatcher-token`` and ``--requester-token``). The database must be one
meant for it: the load creates bookings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import itertools
import json as jsonlib
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ZONE = ZoneInfo("Europe/Brussels")
DEFAULT_SCENARIOS = ("mixed:50,100,150,200,300", "read:250,500,750", "list:600")
MIXES: dict[str, tuple[tuple[str, int], ...]] = {
    "mixed": (("list", 4), ("read", 4), ("create", 1), ("candidates", 1)),
    "read": (("read_one", 1),),
    "list": (("list", 1),),
    "health": (("health", 1),),
}
P99_TARGET_MS = 50.0


@dataclass
class World:
    """What the requests need: tokens, ids from the demo, a day to book."""

    dispatcher: dict[str, str]
    requester: dict[str, str]
    booking_ids: list[int]
    open_ids: list[int]
    """Bookings still to staff: the candidates of any other are a 409."""
    site_id: int
    day: dt.date
    rng: random.Random = field(default_factory=lambda: random.Random(7))


def request_for(kind: str, world: World) -> tuple[str, str, dict[str, str], object | None]:
    """Method, path, headers and JSON body of one request of ``kind``."""
    if kind == "health":
        return "GET", "/health", {}, None
    if kind == "list":
        return "GET", "/api/v1/bookings?limit=20", world.dispatcher, None
    if kind == "read":
        booking = world.rng.choice(world.booking_ids)
        return "GET", f"/api/v1/bookings/{booking}", world.dispatcher, None
    if kind == "read_one":
        return "GET", f"/api/v1/bookings/{world.booking_ids[0]}", world.dispatcher, None
    if kind == "candidates":
        booking = world.rng.choice(world.open_ids)
        return "GET", f"/api/v1/bookings/{booking}/candidates", world.dispatcher, None
    if kind == "create":
        start = dt.datetime.combine(world.day, dt.time(9), ZONE) + dt.timedelta(
            minutes=15 * world.rng.randrange(24)
        )
        body = {
            "language": "ara",
            "session_kind": "social",
            "modality": "onsite",
            "site_id": world.site_id,
            "starts_at": start.isoformat(),
            "duration_minutes": 60,
            "urgency": "normal",
            "beneficiary_ref": f"load-{world.rng.randrange(10**6)}",
        }
        return "POST", "/api/v1/bookings", world.requester, body
    raise ValueError(kind)


@dataclass
class Step:
    """What one rate of one scenario measured."""

    scenario: str
    rate: float
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    accepted: list[float] = field(default_factory=list)
    """Latencies (ms) of the requests answered with a 2xx: the refused ones are quick."""
    in_app: list[float] = field(default_factory=list)
    """How long the server's process took (ms, its ``Server-Timing``): the rest of a
    latency was spent in front of it (the socket, the event loop's queue) or in the generator."""
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    send_lag: list[float] = field(default_factory=list)
    """How late the generator itself sent each request (ms): its own share of the latency."""
    health_worst_ms: float = 0.0
    health_misses: int = 0
    health_probes: int = 0
    server_cpu_s: float | None = None
    """CPU seconds the server's processes used during the step (when this script started it)."""
    database_cpu_s: float = 0.0
    """... and the PostgreSQL backends connected to its database."""
    generator_cpu_s: float = 0.0
    """... and this script, sending the requests and reading the answers."""

    def all_latencies(self) -> list[float]:
        return [v for values in self.latencies.values() for v in values]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (milliseconds), 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def kinds(scenario: str) -> Iterator[str]:
    """The endpoints of a scenario in a fixed, interleaved order of its weights."""
    mix = MIXES[scenario]
    pattern = [name for name, weight in mix for _ in range(weight)]
    random.Random(1).shuffle(pattern)
    return itertools.cycle(pattern)


class LoadError(Exception):
    """A request that got no answer (the connection failed, closed, or timed out)."""


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]


class RawClient:
    """A minimal HTTP/1.1 keep-alive client for the load itself.

    httpx costs the generator 2.5 to 6 ms of CPU per request, on the same two
    cores as the server: at 200 req/s the generator alone needed more than a
    core, and the latency measured was its own (``/health``, answered in
    0.2 ms by the server, took seconds). This writes each request as bytes,
    reads the status line, the headers and a ``Content-Length`` body, and
    keeps the connection for the next request.
    """

    def __init__(self, base_url: str, *, max_connections: int = 2000) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(max_connections)

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: object | None = None,
        timeout: float = 30.0,
    ) -> Answer:
        body = b"" if json is None else jsonlib.dumps(json).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        if json is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        async with self.slots:
            try:
                return await asyncio.wait_for(self._exchange(message), timeout)
            except (TimeoutError, OSError, EOFError, ValueError) as exc:
                raise LoadError(type(exc).__name__) from exc

    async def _exchange(self, message: bytes) -> Answer:
        reused = bool(self.idle)
        if reused:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(message)
            raw_head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            writer.close()
            if reused and not exc.partial:
                # The server closed this idle connection (its keep-alive timeout): not an
                # answer, send the request again on a new connection, as any client does.
                return await self._exchange(message)
            raise
        except BaseException:
            writer.close()
            raise
        try:
            head = raw_head.decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            headers = {}
            for line in head[1:]:
                key, _, value = line.partition(":")
                if value:
                    headers[key.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    await reader.readexactly(size + 2)
                await reader.readuntil(b"\r\n")
            else:
                await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return Answer(status, headers)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def run_step(
    client: RawClient, world: World, scenario: str, rate: float, seconds: float
) -> Step:
    step = Step(scenario, rate, seconds)
    began = time.perf_counter() + 0.05
    total = int(rate * seconds)
    order = kinds(scenario)
    tasks: list[asyncio.Task[None]] = []

    async def one(kind: str, due: float) -> None:
        method, path, headers, body = request_for(kind, world)
        step.send_lag.append((time.perf_counter() - due) * 1000)
        try:
            answer = await client.request(method, path, headers=headers, json=body)
            outcome = str(answer.status_code)
            timing = answer.headers.get("server-timing", "")
            if timing.startswith("app;dur="):
                step.in_app.append(float(timing.removeprefix("app;dur=")))
        except LoadError as exc:
            outcome = str(exc)
        latency = (time.perf_counter() - due) * 1000
        step.latencies[kind].append(latency)
        if outcome.startswith("2"):
            step.accepted.append(latency)
        step.statuses[kind][outcome] += 1

    async def probe() -> None:
        while time.perf_counter() < began + seconds:
            sent = time.perf_counter()
            try:
                answer = await client.request("GET", "/health", timeout=2.0)
                ok = answer.status_code == 200
            except LoadError:
                ok = False
            step.health_probes += 1
            step.health_misses += not ok
            step.health_worst_ms = max(step.health_worst_ms, (time.perf_counter() - sent) * 1000)
            await asyncio.sleep(0.1)

    prober = asyncio.create_task(probe())
    for i in range(total):
        due = began + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(next(order), due)))
    await asyncio.gather(*tasks)
    await prober
    return step


def print_step(step: Step) -> None:
    print(f"\n{step.scenario} at {step.rate:g} req/s for {step.seconds:g} s")
    print(f"  {'endpoint':<11} {'sent':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    rows = sorted(step.latencies.items())
    rows.append(("all", step.all_latencies()))
    for kind, values in rows:
        statuses = (
            step.statuses[kind] if kind != "all" else sum(step.statuses.values(), Counter[str]())
        )
        shown = " ".join(f"{code}:{count}" for code, count in sorted(statuses.items()))
        print(
            f"  {kind:<11} {len(values):>6} {percentile(values, 50):>8.1f} "
            f"{percentile(values, 95):>8.1f} {percentile(values, 99):>8.1f}  {shown}"
        )
    print(
        f"  /health beside it: {step.health_probes} probes, {step.health_misses} missed, "
        f"worst {step.health_worst_ms:.1f} ms; the generator sent late by p99 "
        f"{percentile(step.send_lag, 99):.1f} ms; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  accepted (2xx): {len(step.accepted)}, p50 {percentile(step.accepted, 50):.1f} ms, "
        f"p99 {percentile(step.accepted, 99):.1f} ms"
    )
    print(
        f"  in the server's process: p50 {percentile(step.in_app, 50):.1f} ms, p99 "
        f"{percentile(step.in_app, 99):.1f} ms (the rest of the latency is spent in front of it)"
    )
    if step.server_cpu_s is not None:
        sent = sum(len(values) for values in step.latencies.values())
        print(
            f"  CPU per request: server {1000 * step.server_cpu_s / sent:.2f} ms, its PostgreSQL "
            f"backends {1000 * step.database_cpu_s / sent:.2f} ms, the generator "
            f"{1000 * step.generator_cpu_s / sent:.2f} ms (less noisy than latency on a shared "
            "machine)"
        )


async def run(
    base_url: str,
    world: World,
    scenarios: list[tuple[str, list[float]]],
    seconds: float,
    server_cpu: Callable[[], CpuSample] | None = None,
) -> list[Step]:
    steps = []
    client = RawClient(base_url)
    try:
        for scenario, rates in scenarios:
            for rate in rates:
                cpu_before = server_cpu() if server_cpu is not None else None
                mine = time.process_time()
                step = await run_step(client, world, scenario, rate, seconds)
                step.generator_cpu_s = time.process_time() - mine
                if server_cpu is not None and cpu_before is not None:
                    cpu_after = server_cpu()
                    step.server_cpu_s = cpu_after.server - cpu_before.server
                    step.database_cpu_s = cpu_after.database_since(cpu_before)
                print_step(step)
                steps.append(step)
                await asyncio.sleep(2)  # let the server drain between steps
    finally:
        client.close()
    return steps


def run_loop(main: Coroutine[Any, Any, list[Step]]) -> list[Step]:
    """Run the load on uvloop when it is installed (the server uses it too): less CPU taken
    from the server by the generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def summary(steps: list[Step]) -> None:
    print(f"\nwhere p99 passes {P99_TARGET_MS:g} ms (all requests of the step):")
    for scenario in dict.fromkeys(s.scenario for s in steps):
        mine = [s for s in steps if s.scenario == scenario]
        passing = [s for s in mine if percentile(s.all_latencies(), 99) > P99_TARGET_MS]
        if passing:
            print(f"  {scenario}: at {passing[0].rate:g} req/s")
        else:
            print(f"  {scenario}: not up to {mine[-1].rate:g} req/s")


# --- the server and its database -----------------------------------------------------------


def truchement(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "truchement"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"truchement {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class CpuSample:
    """CPU seconds used so far by the server's processes and by each database backend."""

    server: float
    backends: dict[int, float]

    def database_since(self, before: CpuSample) -> float:
        return sum(used - before.backends.get(pid, 0.0) for pid, used in self.backends.items())


def _cpu_of(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend on this machine connected to ``database``."""
    used = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if command.startswith("postgres:") and f" {database} " in command:
                used[int(entry.name)] = _cpu_of(int(entry.name))
        except (OSError, ValueError):
            continue
    return used


def cpu_sample(pid: int, database: str) -> CpuSample:
    return CpuSample(process_tree_cpu(pid), backends_cpu(database))


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its living descendants (Linux)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += _cpu_of(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


@contextlib.contextmanager
def served(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """``truchement serve --workers N`` on a free port until the block ends; its base URL
    and process id."""
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(BIN / "truchement"), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _ready(base_url), server)
            yield base_url, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Callable[[], bool], server: subprocess.Popen[bytes]) -> None:
    limit = time.monotonic() + 60
    while not condition():
        if server.poll() is not None or time.monotonic() > limit:
            raise SystemExit("the server did not start (see its log)")
        time.sleep(0.3)


def prepare(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, seed the demo into an empty database, and make the two API tokens."""
    truchement(env, "db", "upgrade")
    with contextlib.suppress(SystemExit):  # refused when the demo is there already
        truchement(env, "seed", "demo")
    return (
        truchement(env, "token", "create", "--user", "dispatcher@demo.truchement.eu"),
        truchement(env, "token", "create", "--user", "requester@demo.truchement.eu"),
    )


def world_of(base_url: str, dispatcher: str, requester: str) -> World:
    dispatcher_headers = {"Authorization": f"Bearer {dispatcher}"}
    requester_headers = {"Authorization": f"Bearer {requester}"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        listed = client.get("/api/v1/bookings?limit=100", headers=dispatcher_headers)
        listed.raise_for_status()
        items = listed.json()["items"]
        ids = [int(b["id"]) for b in items]
        open_ids = [int(b["id"]) for b in items if b["status"] in ("requested", "unfilled")]
        sites = client.get("/api/v1/sites?limit=1", headers=requester_headers)
        sites.raise_for_status()
        site_id = int(sites.json()["items"][0]["id"])
    if not ids or not open_ids:
        raise SystemExit("the dispatcher sees no open booking: is the demo seeded?")
    today = dt.datetime.now(ZONE).date()
    tuesday = today + dt.timedelta(days=7 - today.weekday() + 1)
    return World(dispatcher_headers, requester_headers, ids, open_ids, site_id, tuesday)


def parse_scenarios(values: list[str]) -> list[tuple[str, list[float]]]:
    scenarios = []
    for value in values:
        name, _, rates = value.partition(":")
        if name not in MIXES or not rates:
            raise SystemExit(f"--scenario {value!r}: NAME:RATE,... with NAME in {list(MIXES)}")
        scenarios.append((name, [float(r) for r in rates.split(",")]))
    return scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL database for the server (and demo)")
    parser.add_argument("--workers", type=int, default=2, help="serve --workers (2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate (10)")
    parser.add_argument("--scenario", action="append", help=f"default: {DEFAULT_SCENARIOS}")
    parser.add_argument("--base-url", help="measure a server already running instead")
    parser.add_argument("--dispatcher-token")
    parser.add_argument("--requester-token")
    parser.add_argument("--log", default="load-server.log", help="the server's output")
    args = parser.parse_args()
    scenarios = parse_scenarios(args.scenario or list(DEFAULT_SCENARIOS))
    print(f"{os.cpu_count()} cores; load generator and server on this machine")
    if args.base_url:
        if not (args.dispatcher_token and args.requester_token):
            raise SystemExit("--base-url needs --dispatcher-token and --requester-token")
        world = world_of(args.base_url, args.dispatcher_token, args.requester_token)
        summary(run_loop(run(args.base_url, world, scenarios, args.seconds)))
        return
    if not args.database_url or not args.database_url.startswith("postgresql"):
        raise SystemExit("--database-url postgresql+psycopg://... (a database meant for it)")
    env = {
        **os.environ,
        "TRUCHEMENT_DATABASE_URL": args.database_url,
        "TRUCHEMENT_ENVIRONMENT": "development",
        # The load's writes come from one token: the per-caller write brake would refuse them.
        "TRUCHEMENT_WRITE_RATE_PER_MINUTE": "1000000",
        "TRUCHEMENT_SMS_BACKEND": "none",
    }
    dispatcher, requester = prepare(env)
    with served(env, args.workers, Path(args.log)) as (base_url, pid):
        world = world_of(base_url, dispatcher, requester)
        print(f"server: truchement serve --workers {args.workers} on {base_url}")
        database = args.database_url.rsplit("/", 1)[-1].split("?")[0]
        cpu = functools.partial(cpu_sample, pid, database)
        summary(run_loop(run(base_url, world, scenarios, args.seconds, cpu)))


if __name__ == "__main__":
    main()
