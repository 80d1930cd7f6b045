"""Trezor signer on trezorlib, over the links of signerd/devices/registry.py.

Typed data is streamed with ``ethereum.sign_typed_data`` so T/Safe models show every field.
A Trezor One can only sign EIP-712 hashes; that is refused unless blind signing was allowed,
and then the hashes the person must compare are announced through ``notify``.

cancel() sends trezorlib's Cancel: the firmware clears its screen and answers the waiting
call with Failure(ActionCancelled), the same answer as a press on the reject button; the
signer tells the two apart by whether cancel() was called for the running operation.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from trezorlib import ethereum, exceptions, messages, misc
from trezorlib.client import AppManifest, PassphraseSetting, Session, TrezorClient, get_client
from trezorlib.tools import parse_path
from trezorlib.transport import DeviceIsBusy, Transport, TransportException, get_transport

from signerd.addresses import to_checksum_address
from signerd.devices.base import (
    DEFAULT_DERIVATION_PATH,
    DeviceInfo,
    Notify,
    OperationGate,
    Signer,
)
from signerd.devices.registry import DevicePath, find_by_path, locate
from signerd.errors import (
    BlindSigningRefused,
    Cancelled,
    DeviceBusy,
    DeviceError,
    DeviceLocked,
    DeviceNotFound,
    DeviceUnavailable,
    UserRejected,
    ValidationError,
)

LOG = logging.getLogger(__name__)

APP_NAME = "signerd"
T = TypeVar("T")

# Trezor One firmware has no EthereumSignTypedData: it can only sign the two EIP-712 hashes.
_HASH_ONLY_MODELS = {"T1B1"}
# Reading back in step after a host cancel: at most this many stray replies, each this soon.
_RESYNC_READS = 8
_RESYNC_TIMEOUT = 5.0

_LOCKED_FAILURES = {
    messages.FailureType.PinExpected,
    messages.FailureType.PinInvalid,
    messages.FailureType.PinCancelled,
    messages.FailureType.NotInitialized,
    messages.FailureType.InvalidSession,
}


def _transport_for(where: DevicePath) -> Transport:
    # trezorlib picks its transport class by the same prefixes as the registry.
    path = locate(where).path
    try:
        return get_transport(path, prefix_search=True)
    except DeviceIsBusy as exc:
        raise DeviceBusy(f"Trezor at {path} is in use by another program") from exc
    except (TransportException, OSError) as exc:
        raise DeviceNotFound(f"no Trezor found at {path}: {exc}") from exc


@contextmanager
def _device_errors(path: str, gate: OperationGate) -> Iterator[None]:
    """Translate trezorlib's exceptions into signerd's hierarchy."""
    try:
        yield
    except exceptions.Cancelled as exc:
        if gate.cancelled:
            raise Cancelled("cancelled on the Trezor by the host") from exc
        raise UserRejected("rejected on the Trezor") from exc
    except (
        exceptions.PinException,
        exceptions.DeviceLockedError,
        exceptions.PassphraseError,
    ) as exc:
        raise DeviceLocked(f"the Trezor is locked: enter its PIN/passphrase first: {exc}") from exc
    except exceptions.TrezorFailure as exc:
        if exc.code in _LOCKED_FAILURES:
            raise DeviceLocked(f"the Trezor cannot sign now: {exc.message}") from exc
        raise DeviceError(f"the Trezor refused: {exc.message or exc.code}") from exc
    except DeviceIsBusy as exc:
        raise DeviceBusy(f"Trezor at {path} is in use by another program") from exc
    except (TransportException, OSError) as exc:
        raise DeviceUnavailable(f"lost the connection to the Trezor at {path}: {exc}") from exc
    except exceptions.TrezorException as exc:
        raise DeviceError(f"Trezor error: {exc}") from exc


class TrezorSigner(Signer):
    """A Trezor reached through trezorlib, kept connected between operations."""

    def __init__(self, path: str, *, allow_blind_signing: bool = False) -> None:
        where = find_by_path(path)
        if where.family != "trezor":
            raise ValidationError("path", f"not a Trezor path: {path!r}")
        self._path = path
        self._where = where
        self._allow_blind = allow_blind_signing
        self._notify: Notify | None = None
        self._prompt: str | None = None  # said once per operation, at the first button
        self._gate = OperationGate()
        self._transport: Transport | None = None
        self._client: TrezorClient[Any] | None = None
        self._session: Session[Any, Any] | None = None
        self._info: DeviceInfo | None = None
        self._severed = False
        # A host cancel may have left a reply on the link that nobody will read.
        self._unanswered = False

    # -- connection -------------------------------------------------------------------

    def _connect(self) -> Session[Any, Any]:
        if self._session is not None:
            return self._session
        # Kept before the handshake so that close() from another thread can break it.
        transport = self._transport or _transport_for(self._where)
        self._transport, self._severed = transport, False
        app = AppManifest(
            app_name=APP_NAME,
            button_callback=self._on_button,
            pin_callback=self._on_pin_matrix,
        )
        client = get_client(app, transport)
        # Keep the transport open across operations (trezorlib opens one per workflow).
        client.__enter__()
        try:
            session = client.get_session(passphrase=PassphraseSetting.AUTO)
        except BaseException:
            client.__exit__(None, None, None)
            raise
        self._client, self._session = client, session
        features = client.features
        internal = features.internal_model or ""
        self._info = DeviceInfo(
            family="trezor",
            model=_model_name(features),
            path=transport.get_path(),
            firmware=f"{features.major_version}.{features.minor_version}.{features.patch_version}",
            shows_typed_data_fields=internal not in _HASH_ONLY_MODELS,
            label=features.label,
        )
        LOG.info("connected to Trezor %s at %s", self._info.model, self._info.path)
        return session

    def _disconnect(self) -> None:
        """Drop the link; safe from any thread, and breaks an operation blocked on it."""
        client, self._client, self._session = self._client, None, None
        transport, self._transport = self._transport, None
        self._info = None  # asked again on the next connection
        try:
            if client is not None:
                client.__exit__(None, None, None)
            # A workflow in progress holds its own open count on the transport, which the
            # client's exit only decrements: close it outright to break the blocked read.
            if transport is not None and transport.is_open():
                transport.close()
        except Exception:  # the link is already broken; nothing left to release
            LOG.debug("error while closing the Trezor transport", exc_info=True)

    def _run(
        self,
        op: Callable[[Session[Any, Any]], T],
        notify: Notify | None,
        prompt: str = "Confirm on your Trezor",
    ) -> T:
        """Run one device operation, reconnecting first if an earlier link broke."""
        with self._gate.operation():
            self._notify = notify
            self._prompt = prompt
            try:
                with _device_errors(self._path, self._gate):
                    session = self._connect()
                    if self._unanswered:
                        _resync(session)
                        self._unanswered = False
                    # A cancel() that came while connecting found no session to cancel.
                    self._gate.check()
                    return op(session)
            except Cancelled:
                # The Cancel may have overtaken trezorlib's ButtonAck: see _resync.
                self._unanswered = True
                raise
            except DeviceUnavailable:
                self._disconnect()
                raise
            except DeviceError as exc:
                # A half-made connection, or a session the device forgot: start afresh next time.
                if self._session is None or isinstance(
                    exc.__cause__, exceptions.InvalidSessionError
                ):
                    self._disconnect()
                raise
            except Exception as exc:
                if not self._severed:
                    raise
                raise DeviceUnavailable(f"the link to {self._path} was closed") from exc
            finally:
                self._notify = None

    def _on_button(self, request: messages.ButtonRequest) -> None:
        # A typed-data review is a dozen screens; tell the person once per operation.
        if self._notify is not None and self._prompt is not None:
            self._notify(self._prompt)
            self._prompt = None

    def _on_pin_matrix(self, request: messages.PinMatrixRequest) -> str:
        # A Trezor One asks the host for a scrambled PIN; the daemon never handles PINs.
        raise exceptions.PinException(None, "unlock the Trezor with its PIN first (trezorctl)")

    # -- Signer -----------------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        info = self._info
        if info is None:
            info = self._run(lambda session: self._info, None)
        if info is None:  # close() from another thread dropped the link meanwhile
            raise DeviceUnavailable(f"the link to {self._path} was closed")
        return info

    def get_address(self, path: str = DEFAULT_DERIVATION_PATH) -> str:
        address_n = parse_path(path)
        address = self._run(lambda s: ethereum.get_address(s, address_n), None)
        return str(to_checksum_address(address))

    def sign_typed_data(
        self,
        typed_data: dict[str, Any],
        path: str = DEFAULT_DERIVATION_PATH,
        *,
        notify: Notify | None = None,
    ) -> bytes:
        address_n = parse_path(path)
        if self.info.shows_typed_data_fields:
            result = self._run(
                lambda s: ethereum.sign_typed_data(s, address_n, typed_data),
                notify,
                # On T/Safe the values appear only if the person opens them.
                "Review on your Trezor: choose 'Show full message' (and open each struct) to "
                "check every value, then hold to confirm",
            )
            return _signature(result.signature)
        if not self._allow_blind:
            raise BlindSigningRefused(
                f"this Trezor ({self.info.model}) can only sign EIP-712 hashes, not show the "
                "grant's fields; allow blind signing explicitly to sign by hash"
            )
        # Imported here: eth-account costs ~0.4 s to import (its keyfile module builds BLS
        # tables), paid only by a daemon that blind-signs, not by every start.
        from eth_account.messages import encode_typed_data

        signable = encode_typed_data(full_message=typed_data)
        domain_hash, message_hash = bytes(signable.header), bytes(signable.body)
        if notify is not None:
            notify(
                "BLIND SIGNING: compare on the Trezor screen: "
                f"domain hash 0x{domain_hash.hex()}, message hash 0x{message_hash.hex()}"
            )
        result = self._run(
            lambda s: ethereum.sign_typed_data_hash(s, address_n, domain_hash, message_hash),
            notify,
        )
        return _signature(result.signature)

    def sign_message(
        self, message: bytes, path: str = DEFAULT_DERIVATION_PATH, *, notify: Notify | None = None
    ) -> bytes:
        address_n = parse_path(path)
        result = self._run(lambda s: ethereum.sign_message(s, address_n, message), notify)
        return _signature(result.signature)

    def encrypt_key_value(
        self, path: str, key: str, value: bytes, *, notify: Notify | None = None
    ) -> bytes:
        """SLIP-11 CipherKeyValue (encrypt, confirmed on the device at encrypt and decrypt).

        The answer is a secret of the seed: signerd.payments.keystore unseals held keys with it.
        """
        address_n = parse_path(path)
        result = self._run(
            lambda s: misc.encrypt_keyvalue(s, address_n, key, value, True, True),
            notify,
            f'Confirm "{key}" on your Trezor to unlock the held session keys',
        )
        return bytes(result)

    def is_alive(self) -> bool:
        return self._where.is_alive()

    def cancel(self) -> None:
        # Written from another thread while the worker waits for the button answer: the
        # firmware then answers Failure(ActionCancelled) to the blocked read.
        if not self._gate.cancel():
            return
        session = self._session
        if session is None:  # still connecting: the operation stops before asking
            return
        try:
            session.cancel()
        except Exception:
            LOG.debug("could not send Cancel to the Trezor", exc_info=True)

    def close(self) -> None:
        # Not under the operation gate: closing from another thread must break a blocked read.
        self._severed = True
        self._disconnect()


def _resync(session: Session[Any, Any]) -> None:
    """Read past what the Trezor still says about a workflow the host cancelled.

    A Cancel written while trezorlib acknowledges a screen can reach the device before the
    ButtonAck: the firmware ends the workflow on the Cancel, then answers the late ButtonAck
    with Failure(UnexpectedMessage), a reply the next operation would take for its own
    (protocol v1 has no request ids). A Ping carrying a fresh token, read up to its echo,
    puts the link back in step.
    """
    token = secrets.token_hex(8)
    session.write(messages.Ping(message=token))
    for _ in range(_RESYNC_READS):
        reply = session.read(timeout=_RESYNC_TIMEOUT)
        if isinstance(reply, messages.Success) and reply.message == token:
            return
        LOG.debug("dropped a reply to a cancelled workflow: %s", type(reply).__name__)
    raise DeviceError("the Trezor did not answer a Ping after a cancelled operation")


def _model_name(features: messages.Features) -> str:
    names = {"T1B1": "One", "T2T1": "T", "T2B1": "Safe 3", "T3B1": "Safe 3", "T3T1": "Safe 5"}
    internal = features.internal_model or ""
    return names.get(internal, features.model or internal or "unknown")


def _signature(raw: bytes | None) -> bytes:
    if raw is None or len(raw) != 65:
        raise DeviceError("the Trezor returned a malformed signature")
    return bytes(raw)
