"""A load generator for the daemon's socket, run as its own process: ``python -m bench.loadgen``.

Clients are asyncio Protocols on persistent connections sending one pre-encoded request line;
replies are counted by their newlines and not decoded (the first reply of each connection is,
to check it is a result), so the generator spends far less per request than the daemon and
does not bound what is measured. It prints one JSON object: latencies (ms) and the rate.

Modes, per client:
- ``closed``: one request in flight; the next is sent when the reply arrives.
- ``pipelined``: ``depth`` requests in flight; each reply batch is answered by as many new
  requests in one write.
- ``paced``: a fixed total rate, whatever the replies (open loop), spread over the clients;
  a slow daemon then shows as growing latency instead of a lower rate.
Latency runs from writing a request to reading its reply.

Requests are one line repeated (``--method``/``--params``), or the lines of ``--requests
FILE`` each sent once, shared by all clients in order (payments: every one has its own
nonce); a client whose source ran dry stops sending.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

REQUEST_TEMPLATE = '{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}\n'


class RequestSource:
    """The request lines: one repeated forever, or a list each used once."""

    def __init__(self, repeated: bytes | None = None, lines: list[bytes] | None = None) -> None:
        self.repeated = repeated
        self.lines = lines or []
        self.taken = 0

    def take(self, count: int) -> list[bytes]:
        if self.repeated is not None:
            return [self.repeated] * count
        batch = self.lines[self.taken : self.taken + count]
        self.taken += len(batch)
        return batch


class LoadClient(asyncio.Protocol):
    """One connection: sends requests, times their replies (in order: one method, one peer)."""

    def __init__(self, source: RequestSource, mode: str, depth: int, sink: list[float]) -> None:
        self.source = source
        self.mode = mode
        self.depth = depth
        self.sink = sink
        self.sent: collections.deque[float] = collections.deque()
        self.partial = b""
        self.first_reply: bytes | None = None
        self.running = True
        self.recording = False
        self.replies = 0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, count: int = 1) -> None:
        assert self.transport is not None
        requests = self.source.take(count)
        self.sent.extend([time.perf_counter()] * len(requests))
        self.transport.write(b"".join(requests))

    def start(self) -> None:
        if self.mode == "closed":
            self.send()
        elif self.mode == "pipelined":
            self.send(self.depth)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        data = self.partial + data
        replies = data.count(b"\n")
        self.replies += replies
        if self.first_reply is None and replies:
            self.first_reply = data[: data.index(b"\n")]
        self.partial = data[data.rindex(b"\n") + 1 :] if replies else data
        for _ in range(replies):
            started = self.sent.popleft()
            if self.recording:
                self.sink.append(now - started)
        if self.running and replies and self.mode != "paced":
            self.send(replies if self.mode == "pipelined" else 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _pace(clients: list[LoadClient], rate: float, end: float) -> None:
    """Send ``rate`` requests per second in all, round-robin over the clients.

    The event loop's timers have a millisecond's resolution, so requests that fell due in
    the same millisecond go out together (bursts of rate/1000): a burstier load than a
    smooth one, so the latency measured under it is not flattered.
    """
    interval = 1.0 / rate
    due = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) < end:
        while due <= now:
            clients[sent % len(clients)].send()
            sent += 1
            due += interval
        await asyncio.sleep(due - now)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    if args.requests:
        with open(args.requests, "rb") as lines:
            source = RequestSource(lines=lines.read().splitlines(keepends=True))
    else:
        request = REQUEST_TEMPLATE.format(method=args.method, params=args.params).encode()
        source = RequestSource(repeated=request)
    latencies: list[float] = []
    clients: list[LoadClient] = []
    for _ in range(args.clients):
        _, client = await loop.create_unix_connection(
            lambda: LoadClient(source, args.mode, args.depth, latencies), args.socket
        )
        clients.append(client)
    start = time.perf_counter()
    end = start + args.warmup + args.duration
    pacers = []
    if args.mode == "paced":
        pacers.append(asyncio.create_task(_pace(clients, args.rate, end)))
    else:
        for client in clients:
            client.start()
    await asyncio.sleep(args.warmup)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    server_before = cpu_seconds(args.pid) if args.pid else 0.0
    for client in clients:
        client.recording = True
    measured_from = time.perf_counter()
    await asyncio.sleep(max(0.0, end - measured_from))
    for client in clients:
        client.recording = False
        client.running = False
    measured = time.perf_counter() - measured_from
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = (cpu_seconds(args.pid) - server_before) / measured if args.pid else None
    await asyncio.gather(*pacers)
    for client in clients:
        assert client.transport is not None
        client.transport.close()
    await asyncio.gather(*(c.closed for c in clients))
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    first = [json.loads(c.first_reply) for c in clients if c.first_reply is not None]
    errors = [reply["error"] for reply in first if "result" not in reply]
    return {
        "latencies_ms": [x * 1e3 for x in latencies],
        "count": len(latencies),
        "seconds": measured,
        "rate": len(latencies) / measured,
        "generator_cpu": cpu / measured,
        "server_cpu": server_cpu,
        "errors": errors,
        "first_replies": first,
        "replies": sum(c.replies for c in clients),
        "sent": source.taken,
        "ran_dry": source.lines != [] and source.taken == len(source.lines),
    }


def run_against(daemon_socket: str, daemon_pid: int, duration: float, *args: str) -> dict[str, Any]:
    """Run this load generator in its own process against a daemon; its JSON result, with
    RuntimeError if the daemon answered errors (the first reply of each client is decoded)."""
    argv = [sys.executable, "-m", "bench.loadgen", "--socket", daemon_socket]
    argv += ["--pid", str(daemon_pid), "--duration", str(duration), *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    result: dict[str, Any] = json.loads(out.stdout)
    if result["errors"]:
        raise RuntimeError(f"the daemon answered errors: {result['errors'][:3]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--method", default="signerd_status")
    parser.add_argument("--params", default="{}", help="JSON object")
    parser.add_argument("--requests", help="a file of request lines, each sent once")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--mode", choices=["closed", "pipelined", "paced"], default="closed")
    parser.add_argument("--depth", type=int, default=8, help="pipelined: requests in flight")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced: requests/s in all")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--pid", type=int, help="the daemon's pid, to report its CPU use")
    result = asyncio.run(run(parser.parse_args()))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
