"""The CLI's exit codes: one per class of outcome, so a script can branch without parsing text.

One table, here: each error class of ``signerd.errors`` falls under the first entry of
``_BY_CLASS`` it is an instance of (subclasses before their bases). The README's "Exit codes"
table documents the same values; a test checks that every error class lands on one of them.
"""

from __future__ import annotations

from enum import IntEnum

import click

from signerd import errors


class ExitCode(IntEnum):
    """What the process's exit status says happened (README, "Exit codes")."""

    OK = 0
    # The command ran and its answer is "no": `verify` found the grant invalid, `audit
    # --verify` a broken chain, `pay` an HTTP error from the server.
    NEGATIVE = 1
    INVALID_INPUT = 2  # also click's usage errors
    NOT_FOUND = 3
    REJECTED = 4  # the person said no on the device
    TIMED_OUT = 5  # the person did not answer in time
    REFUSED = 6  # policy, budget or the grant's state refused it (never reached the device)
    UNAVAILABLE = 7  # the daemon, the device or the store cannot serve now: retry later
    UNTRUSTED = 8  # a safety check failed: not retried, a person must look
    INTERNAL = 9  # a bug (see the daemon's log) or a daemon speaking another protocol
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); a pending request was withdrawn
    BROKEN_PIPE = 141  # what reads the output stopped (`| head`): 128 + SIGPIPE, as for any tool


_BY_CLASS: tuple[tuple[type[errors.SignerdError], ExitCode], ...] = (
    (errors.ValidationError, ExitCode.INVALID_INPUT),
    (errors.GrantNotFound, ExitCode.NOT_FOUND),
    (errors.HeldKeyNotFound, ExitCode.NOT_FOUND),
    (errors.DelegationNotFound, ExitCode.NOT_FOUND),
    (errors.UserRejected, ExitCode.REJECTED),
    (errors.ApprovalTimeout, ExitCode.TIMED_OUT),
    (errors.PolicyRefused, ExitCode.REFUSED),
    (errors.TooManyPending, ExitCode.REFUSED),
    (errors.BlindSigningRefused, ExitCode.REFUSED),
    (errors.GrantRevoked, ExitCode.REFUSED),
    (errors.GrantExpired, ExitCode.REFUSED),
    (errors.GrantExists, ExitCode.REFUSED),
    (errors.BudgetExceeded, ExitCode.REFUSED),
    (errors.SpendConflict, ExitCode.REFUSED),
    (errors.PaymentRefused, ExitCode.REFUSED),
    (errors.DelegationExists, ExitCode.REFUSED),
    (errors.DelegationUnsupported, ExitCode.REFUSED),
    (errors.PermissionUnsupported, ExitCode.REFUSED),
    (errors.ChainNotConfigured, ExitCode.REFUSED),
    (errors.DelegationMismatch, ExitCode.UNTRUSTED),
    (errors.UntrustedDaemon, ExitCode.UNTRUSTED),
    (errors.UnsafePath, ExitCode.UNTRUSTED),
    (errors.UnauthorizedPeer, ExitCode.UNTRUSTED),
    (errors.DeviceMismatch, ExitCode.UNTRUSTED),
    (errors.StoreTampered, ExitCode.UNTRUSTED),
    (errors.KeysWrongDevice, ExitCode.UNTRUSTED),
    (errors.DaemonUnavailable, ExitCode.UNAVAILABLE),
    (errors.SocketInUse, ExitCode.UNAVAILABLE),
    (errors.TooManyConnections, ExitCode.UNAVAILABLE),
    (errors.QueueTimeout, ExitCode.UNAVAILABLE),
    (errors.Cancelled, ExitCode.UNAVAILABLE),  # withdrawn by the daemon (it stopped)
    (errors.KeysLocked, ExitCode.UNAVAILABLE),
    (errors.StoreError, ExitCode.UNAVAILABLE),
    (errors.DeviceError, ExitCode.UNAVAILABLE),  # unavailable, busy, locked, stale review
    (errors.ChainError, ExitCode.UNAVAILABLE),  # the node failed or refused a call
    (errors.ParseError, ExitCode.INTERNAL),
    (errors.InvalidRequest, ExitCode.INTERNAL),
    (errors.MethodNotFound, ExitCode.INTERNAL),
    (errors.SignerdError, ExitCode.INTERNAL),
)


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code for a command that ended with ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, click.UsageError):
        return ExitCode.INVALID_INPUT
    return entry_for(type(exc))[1] if isinstance(exc, errors.SignerdError) else ExitCode.INTERNAL


def entry_for(cls: type[errors.SignerdError]) -> tuple[type[errors.SignerdError], ExitCode]:
    """The table's entry that decides ``cls``'s exit code (the first it is a subclass of)."""
    return next(entry for entry in _BY_CLASS if issubclass(cls, entry[0]))
