"""Every error signerd raises, each class with its stable code: one table, one place.

Device adapters translate vendor errors (trezorlib exceptions, Ledger status words) into
these classes; the RPC layer answers each with its class's code (``cls.code``), and the
Python client turns a code back into the same class. So the code table cannot drift from
the classes (HWI's way), and an agent catches ``UserRejected`` on either side of the socket.

Codes follow JSON-RPC 2.0 for protocol errors, EIP-1193 where it names the situation (4001
user rejected, 4100 unauthorized, 4900 disconnected) and the implementation range
-32000..-32099 for the rest. They are part of the API: never renumber, never reuse.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar


class ErrorCode(IntEnum):
    """The documented codes (README, "Error codes"); each belongs to exactly one class."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    REJECTED_ON_DEVICE = 4001
    UNAUTHORIZED_PEER = 4100
    DEVICE_UNAVAILABLE = 4900
    APPROVAL_TIMEOUT = -32001
    DEVICE_BUSY = -32002
    DEVICE_LOCKED = -32003
    DEVICE_ERROR = -32004
    BLIND_SIGNING_REFUSED = -32005
    QUEUE_TIMEOUT = -32006
    DEVICE_MISMATCH = -32007
    POLICY_REFUSED = -32010
    TOO_MANY_PENDING = -32011
    TOO_MANY_CONNECTIONS = -32012
    GRANT_NOT_FOUND = -32020
    GRANT_REVOKED = -32021
    GRANT_EXPIRED = -32022
    GRANT_EXISTS = -32023
    CANCELLED = -32030
    STORE_ERROR = -32040
    SOCKET_IN_USE = -32041
    UNTRUSTED_DAEMON = -32042
    UNSAFE_PATH = -32043
    BUDGET_EXCEEDED = -32050
    SPEND_CONFLICT = -32051
    PAYMENT_REFUSED = -32052
    KEYS_LOCKED = -32060
    KEYS_WRONG_DEVICE = -32061
    HELD_KEY_NOT_FOUND = -32062
    STORE_TAMPERED = -32045
    STALE_REVIEW = -32009
    DAEMON_UNAVAILABLE = -32044
    DELEGATION_MISMATCH = -32070
    DELEGATION_UNSUPPORTED = -32071
    CHAIN_NOT_CONFIGURED = -32072
    DELEGATION_NOT_FOUND = -32073
    DELEGATION_EXISTS = -32074
    CHAIN_ERROR = -32075
    PERMISSION_UNSUPPORTED = -32076


class SignerdError(Exception):
    """Base class of all signerd errors; on its own, an unexpected failure (INTERNAL_ERROR)."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str = "", data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    @property
    def name(self) -> str:
        """The code's stable name, e.g. ``REJECTED_ON_DEVICE``."""
        return self.code.name

    @classmethod
    def from_wire(cls, message: str, data: Any) -> SignerdError:
        """The error a client rebuilds from a JSON-RPC error object of this class's code."""
        return cls(message, data if isinstance(data, dict) else None)


class InternalError(SignerdError):
    """Something failed that signerd did not expect: a bug, reported as INTERNAL_ERROR."""


# -- the protocol ---------------------------------------------------------------------------


class ParseError(SignerdError):
    """The line is not UTF-8 JSON, or nests deeper than the daemon parses."""

    code = ErrorCode.PARSE_ERROR


class InvalidRequest(SignerdError):
    """The JSON is not a JSON-RPC 2.0 request (or it is a batch, which signerd does not take)."""

    code = ErrorCode.INVALID_REQUEST


class MethodNotFound(SignerdError):
    """No method of that name."""

    code = ErrorCode.METHOD_NOT_FOUND


class ValidationError(SignerdError, ValueError):
    """A request or grant field is malformed (INVALID_PARAMS).

    ``field`` names it as a dotted path, e.g. ``allowances.0.amount``.
    """

    code = ErrorCode.INVALID_PARAMS

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", {"field": field})
        self.field = field
        self.message = message

    @classmethod
    def from_wire(cls, message: str, data: Any) -> SignerdError:
        field = data.get("field") if isinstance(data, dict) else None
        if isinstance(field, str) and message.startswith(f"{field}: "):
            return cls(field, message[len(field) + 2 :])
        return cls(field if isinstance(field, str) else "params", message)


class UnauthorizedPeer(SignerdError):
    """The connecting uid is not served by this daemon."""

    code = ErrorCode.UNAUTHORIZED_PEER


class TooManyConnections(SignerdError):
    """The daemon (or this uid) already has the maximum number of connections open."""

    code = ErrorCode.TOO_MANY_CONNECTIONS


class SocketInUse(SignerdError):
    """Another daemon already answers on the socket path."""

    code = ErrorCode.SOCKET_IN_USE


class UntrustedDaemon(SignerdError):
    """The process serving the socket runs as another uid than the daemon the client expects
    (SO_PEERCRED): nothing was sent to it."""

    code = ErrorCode.UNTRUSTED_DAEMON


class UnsafePath(SignerdError):
    """A directory or file signerd creates or trusts (the socket, its directories, the data
    directory) belongs to another user, is writable by others, or is a symlink."""

    code = ErrorCode.UNSAFE_PATH


class DaemonUnavailable(SignerdError, ConnectionError):
    """(Client side) no signerd answers on the socket: not running, or it went away, or the
    path is wrong (``SIGNERD_SOCKET``, ``--socket``)."""

    code = ErrorCode.DAEMON_UNAVAILABLE


# -- the device -----------------------------------------------------------------------------


class DeviceError(SignerdError):
    """A device failed in a way not covered by a more specific class."""

    code = ErrorCode.DEVICE_ERROR


class DeviceUnavailable(DeviceError):
    """No device answers at the path: not connected, unplugged, or the emulator is not running."""

    code = ErrorCode.DEVICE_UNAVAILABLE


# Opening found nothing at the path: to an agent the same situation as an unplugged device.
DeviceNotFound = DeviceUnavailable


class DeviceMismatch(DeviceError):
    """The device answered with another key than the account it signs for: another device."""

    code = ErrorCode.DEVICE_MISMATCH


class StaleReview(DeviceError):
    """A Ledger still shows the review of an earlier, abandoned request (the app cannot be
    told to drop it): nothing is sent until the person rejects it there or restarts the app."""

    code = ErrorCode.STALE_REVIEW


class DeviceBusy(DeviceError):
    """The device is in use by another program or another operation."""

    code = ErrorCode.DEVICE_BUSY


class DeviceLocked(DeviceError):
    """The device needs its PIN or passphrase entered (or the right app opened) first."""

    code = ErrorCode.DEVICE_LOCKED


class UserRejected(DeviceError):
    """The person rejected the request on the device."""

    code = ErrorCode.REJECTED_ON_DEVICE


class BlindSigningRefused(DeviceError):
    """The device can only sign hashes here and blind signing was not explicitly allowed."""

    code = ErrorCode.BLIND_SIGNING_REFUSED


class ApprovalTimeout(SignerdError):
    """The person did not answer on the device in time; the request was cancelled on the device."""

    code = ErrorCode.APPROVAL_TIMEOUT


class QueueTimeout(SignerdError):
    """The device stayed busy with earlier requests too long; this one never reached it."""

    code = ErrorCode.QUEUE_TIMEOUT


class Cancelled(SignerdError):
    """The request was withdrawn before the person answered: by its client, or at shutdown.

    A Signer raises it from an operation aborted by ``cancel()``, whatever the family.
    """

    code = ErrorCode.CANCELLED


# -- policy and grants ----------------------------------------------------------------------


class PolicyRefused(SignerdError):
    """The request exceeds a configured ceiling; it never reached the device."""

    code = ErrorCode.POLICY_REFUSED


class TooManyPending(SignerdError):
    """This peer already has the maximum number of requests waiting for the device."""

    code = ErrorCode.TOO_MANY_PENDING


class GrantNotFound(SignerdError):
    """No grant with that id is stored."""

    code = ErrorCode.GRANT_NOT_FOUND


class GrantRevoked(SignerdError):
    """The grant was revoked."""

    code = ErrorCode.GRANT_REVOKED


class GrantExpired(SignerdError):
    """The grant's validity window has ended."""

    code = ErrorCode.GRANT_EXPIRED


class GrantExists(SignerdError):
    """A grant with the same id (same content, nonce and window) is already stored."""

    code = ErrorCode.GRANT_EXISTS


# -- spending -------------------------------------------------------------------------------


class BudgetExceeded(SignerdError):
    """The spend does not fit the grant's allowance for its token in the current period window.

    Also raised when the grant has no allowance for the token at all (its budget is zero).
    Reserved spends count as well as committed ones: a signature that may have left is spent.
    """

    code = ErrorCode.BUDGET_EXCEEDED


class SpendConflict(SignerdError):
    """The spend's idempotency key (its EIP-3009 nonce) is taken by a different spend, or the
    spend is not in a state that allows the change (a committed spend cannot be released).
    """

    code = ErrorCode.SPEND_CONFLICT


class PaymentRefused(SignerdError):
    """The typed data is not a payment the grant allows: not an EIP-3009 authorization, or
    its payer, chain, token, payee, amount per payment or validity is outside the grant, or
    the daemon holds no key for the grant's session key. ``data.reason`` names which, as a
    stable slug (``not_eip3009``, ``wrong_from``, ``payee_not_allowed``, ...). Nothing was
    signed or reserved.
    """

    code = ErrorCode.PAYMENT_REFUSED


# -- held session keys ---------------------------------------------------------------------


class KeysLocked(SignerdError):
    """The daemon holds session keys but cannot use them yet: they are sealed under a secret
    only the device releases, and the person has not unlocked them on the device since the
    daemon started (``signerd_unlock``).
    """

    code = ErrorCode.KEYS_LOCKED


class KeysWrongDevice(SignerdError):
    """The device's secret does not open this daemon's held keys: another device, another
    seed or passphrase, or another device family than the one that sealed them.
    """

    code = ErrorCode.KEYS_WRONG_DEVICE


class HeldKeyNotFound(SignerdError):
    """The daemon holds no session key for that address."""

    code = ErrorCode.HELD_KEY_NOT_FOUND


# -- storage --------------------------------------------------------------------------------


class StoreError(SignerdError):
    """The store cannot be used: corrupt, written by a newer signerd, or refused a write."""

    code = ErrorCode.STORE_ERROR


class StoreTampered(SignerdError):
    """A grant or spend row does not match the audit entry that last changed it: the database
    was edited outside signerd. The daemon refuses to act on the row; ``signerd audit
    --verify`` lists every such row."""

    code = ErrorCode.STORE_TAMPERED


# -- on chain -------------------------------------------------------------------------------


class DelegationMismatch(SignerdError):
    """A delegation does not encode exactly its grant's limits (``data.field`` names the
    first difference: ``delegate``, ``salt``, ``caveats.N``, ...)."""

    code = ErrorCode.DELEGATION_MISMATCH


class DelegationUnsupported(SignerdError):
    """The grant's limits cannot be enforced exactly by the Delegation Framework's enforcers
    (no validAfter, or several tokens with one capped twice); nothing is weakened."""

    code = ErrorCode.DELEGATION_UNSUPPORTED


class ChainNotConfigured(SignerdError):
    """The daemon has no ``[[chains]]`` entry (contracts, or an RPC URL where one is needed)
    for the chain asked about; checked before the device is asked."""

    code = ErrorCode.CHAIN_NOT_CONFIGURED


class DelegationNotFound(SignerdError):
    """The grant has no delegation (none was approved for it yet)."""

    code = ErrorCode.DELEGATION_NOT_FOUND


class DelegationExists(SignerdError):
    """The grant already has its delegation: one grant, one delegation (``getDelegation``)."""

    code = ErrorCode.DELEGATION_EXISTS


class ChainError(SignerdError):
    """The chain's node refused or failed a call or transaction (unreachable, reverted, out
    of gas); ``data.tx`` names the transaction when one was sent."""

    code = ErrorCode.CHAIN_ERROR


class PermissionUnsupported(SignerdError):
    """An ERC-7715 permission type (or rule type) this daemon does not grant; see
    ``wallet_getSupportedExecutionPermissions``."""

    code = ErrorCode.PERMISSION_UNSUPPORTED


def error_classes() -> list[type[SignerdError]]:
    """Every concrete error class, the base's INTERNAL_ERROR stand-in included."""
    found: list[type[SignerdError]] = []
    pending: list[type[SignerdError]] = [SignerdError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


_BY_CODE: dict[int, type[SignerdError]] = {
    int(cls.code): cls for cls in error_classes() if cls is not SignerdError
}


def error_from_code(code: int, message: str, data: Any = None) -> SignerdError:
    """The typed error for a JSON-RPC error object; an unknown code is an InternalError."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return InternalError(f"{message} (code {code})", data if isinstance(data, dict) else None)
    return cls.from_wire(message, data)
