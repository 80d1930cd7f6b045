"""From MCP tool calls to the daemon's socket: one connection per call, off the event loop,
and every outcome as a ``CallToolResult``.

The MCP server is a client of the socket like any agent (``signerd.rpc.client.Client``), so
the daemon applies to it what it applies to every agent: the uid check, the per-uid
isolation of grants, the policy and the person on the device. A call runs in a worker
thread (the client blocks); when the MCP client cancels a call, its connection is shut
down, and the daemon cancels the pending request, on the device too.

A refusal becomes an MCP tool error (``isError``) whose structured content is
``{"error": {"code", "name", "message", "data"}}``: signerd's stable code and name (README,
"Error codes"), so a program can tell a rejection on the device from an exhausted budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from signerd.errors import DaemonUnavailable, SignerdError
from signerd.mcp.models import ErrorBody
from signerd.rpc.client import Client

T = TypeVar("T", bound=BaseModel)


class Refused(Exception):
    """A refusal that is not signerd's (an HTTP failure of a paid URL): reported as is."""

    def __init__(self, error: ErrorBody) -> None:
        super().__init__(error.message)
        self.error = error


class Bridge:
    """Runs blocking client calls for the tools, against the socket at ``socket_path``."""

    def __init__(self, socket_path: Path | None) -> None:
        self.socket_path = socket_path

    async def run(
        self,
        work: Callable[[Client], T],
        *,
        limiter: anyio.CapacityLimiter | None = None,
        deadline: float | None = None,
    ) -> CallToolResult:
        """``work`` on a fresh connection in a worker thread (one of ``limiter``'s); its
        model, or the refusal; after ``deadline`` seconds, a TIMEOUT refusal."""
        try:
            client = await anyio.to_thread.run_sync(self._connect)
        except SignerdError as exc:
            return refusal(error_body(exc))
        try:
            with anyio.move_on_after(deadline) as scope:
                model = await anyio.to_thread.run_sync(
                    work, client, abandon_on_cancel=True, limiter=limiter
                )
            if scope.cancelled_caught:
                message = f"no answer within {deadline} s; what was paid meanwhile still counts"
                return refusal(ErrorBody(code=None, name="TIMEOUT", message=message))
        except SignerdError as exc:
            return refusal(error_body(exc))
        except Refused as exc:
            return refusal(exc.error)
        except OSError as exc:  # the daemon went away mid-call (or stopped answering)
            lost = DaemonUnavailable(f"lost the connection to signerd ({exc})")
            return refusal(error_body(lost))
        finally:
            # Wakes the worker thread if the call was cancelled (the daemon then cancels the
            # request on the device); a no-op for a call that is done.
            client.interrupt()
            client.close()
        return success(model)

    def _connect(self) -> Client:
        try:
            return Client(self.socket_path)
        except OSError as exc:  # absent, refused, a path too long or through a file
            where = self.socket_path or "the default socket"
            raise DaemonUnavailable(
                f"signerd is not answering at {where} ({exc.strerror or exc}): start `signerd "
                "serve`, or pass --socket / set SIGNERD_SOCKET"
            ) from None


def error_body(exc: SignerdError) -> ErrorBody:
    return ErrorBody(code=int(exc.code), name=exc.name, message=exc.message, data=exc.data)


def refusal(error: ErrorBody) -> CallToolResult:
    """An MCP tool error carrying ``error`` (text for the model, structure for programs)."""
    body = error.model_dump(mode="json", by_alias=True)
    code = "" if error.code is None else f" {error.code}"
    text = f"signerd refused: {error.message} [{error.name}{code}]"
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content={"error": body},
        is_error=True,
    )


def success(model: BaseModel) -> CallToolResult:
    """A tool result: the model as structured content, and the same JSON as text."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data, separators=(",", ":")))],
        structured_content=data,
    )
