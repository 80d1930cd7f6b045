"""LedgerSigner: the Ethereum app on a Ledger (Nano S Plus / X, Stax, Flex) or an emulator.

EIP-712 is signed in full mode (P2=0x01): the app hashes the values itself and shows them.
A Nano shows the fields only with the app setting "Raw messages" on; with "Raw messages"
and "Blind signing" both off it refuses (0x6A80, "Blind signing must be enabled in
Settings"), and with only "Blind signing" on it would show just a hash. GET APP
CONFIGURATION reports "Blind signing" (flag 0x01) but not "Raw messages", so on a Nano (or
an unknown model) with "Blind signing" on, the signer cannot know the fields will be shown:
it then refuses unless opened with allow_blind_signing, in which case it signs in the v0
hashed mode and tells the person, through notify, the hashes to compare on the screen. The
configuration is read afresh for every signature, so a cached ``info`` never decides it.

cancel() closes the link so that a blocked exchange fails at once, and the operation raises
Cancelled. Ledger has no cancel APDU: the device (or Speculos) keeps its review on screen
until the person answers it. The signer remembers the answer it is owed, and the next
operation first consumes it (stale.py): it tells the person to reject the old review, never
takes its answer for its own, and fails with StaleReview if the screen does not clear.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from signerd.devices.base import DEFAULT_DERIVATION_PATH, DeviceInfo, Notify, OperationGate, Signer
from signerd.devices.ledger.apdu import (
    INS_GET_APP_CONFIGURATION,
    INS_GET_PUBLIC_ADDRESS,
    INS_SIGN_EIP712,
    SW_INVALID_DATA,
    SW_OK,
    apdu,
    pack_bip32,
    parse_address,
    parse_app_configuration,
    personal_message_apdus,
    status_error,
)
from signerd.devices.ledger.eip712 import typed_data_apdus
from signerd.devices.ledger.stale import OwedReplies
from signerd.devices.ledger.transport import HidTransport, LinkClosed, Transport, open_transport
from signerd.devices.registry import find_by_path
from signerd.errors import (
    ApprovalTimeout,
    BlindSigningRefused,
    Cancelled,
    DeviceError,
    DeviceUnavailable,
    StaleReview,
    ValidationError,
)
from signerd.grants.digest import keccak

DEFAULT_TIMEOUT = 300.0  # seconds the person has to answer a review
IO_TIMEOUT = 10.0  # seconds for an APDU that needs no answer from the person
# Seconds an operation waits for the person to dismiss an abandoned review: a signature
# request, whose notify tells the person, waits STALE_WAIT; a quick question a moment.
STALE_WAIT = 60.0
STALE_WAIT_UNTOLD = 2.0

TOUCH_MODELS = ("Stax", "Flex")

RAW_MESSAGES_HELP = (
    'Turn on "Raw messages" in the Ethereum app\'s settings on the Ledger '
    "(App settings > Raw messages, also called verbose EIP-712) so that it shows every field"
)


class LedgerSigner(Signer):
    """The Ethereum app on a Ledger, or on Speculos / the simulator."""

    def __init__(
        self,
        path: str,
        *,
        allow_blind_signing: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        stale_wait: float = STALE_WAIT,
    ) -> None:
        where = find_by_path(path)
        if where.family != "ledger":
            raise ValidationError("path", f"not a Ledger path: {path!r}")
        self.path = path
        self.allow_blind_signing = allow_blind_signing
        self.timeout = timeout
        self.stale_wait = stale_wait
        self._owed = OwedReplies()
        self._where = where
        self._gate = OperationGate()
        self._lock = threading.Lock()  # guards _transport against cancel()/close()
        self._transport: Transport | None = None
        self._info: DeviceInfo | None = None

    # -- link ------------------------------------------------------------------------------

    def _connect(self) -> Transport:
        with self._lock:
            if self._transport is None:
                self._transport = open_transport(self._where)
            return self._transport

    def _drop(self) -> None:
        with self._lock:
            transport, self._transport = self._transport, None
            self._info = None  # asked again on the next connection
        if transport is not None:
            with contextlib.suppress(OSError):
                transport.close()

    def _exchange(self, raw: bytes, *, interactive: bool) -> tuple[bytes, int]:
        self._gate.check()
        transport = self._connect()
        # A cancel() that came while connecting closed nothing: stop before sending.
        self._gate.check()
        timeout = self.timeout if interactive else min(self.timeout, IO_TIMEOUT)
        try:
            return transport.exchange(raw, timeout)
        except LinkClosed:
            self._owed.owe()
            self._drop()
            if self._gate.cancelled:
                raise Cancelled(
                    "cancelled by the host; the Ledger still shows the review until answered"
                ) from None
            raise DeviceUnavailable(f"the link to {self.path} was closed") from None
        except TimeoutError:
            # The late reply would answer the next APDU: the next operation consumes it first.
            self._owed.owe()
            self._drop()
            if interactive:
                raise ApprovalTimeout(f"no answer on the Ledger within {timeout:.0f}s") from None
            raise DeviceUnavailable(f"the Ledger did not answer within {timeout:.0f}s") from None
        except DeviceError:
            self._drop()
            raise

    def _settle(self, notify: Notify | None = None) -> None:
        """Consume the answer an abandoned review still owes, before anything is sent."""
        wait = self.stale_wait if notify is not None else min(self.stale_wait, STALE_WAIT_UNTOLD)
        try:
            self._owed.settle(self._connect, notify, wait, self._gate.check)
        except StaleReview:
            raise  # the link stays: the review's answer, when it comes, arrives on it
        except LinkClosed:
            self._drop()
            if self._gate.cancelled:
                raise Cancelled(
                    "cancelled by the host while the Ledger still showed an earlier review"
                ) from None
            raise DeviceUnavailable(f"the link to {self.path} was closed") from None
        except DeviceError:
            self._drop()
            raise

    def _call(self, raw: bytes, *, interactive: bool = False, what: str = "") -> bytes:
        data, sw = self._exchange(raw, interactive=interactive)
        if sw != SW_OK:
            raise status_error(sw, what)
        return data

    def _app_config(self) -> tuple[bool, str]:
        """(blind signing allowed, app version), read from GET APP CONFIGURATION."""
        data = self._call(apdu(INS_GET_APP_CONFIGURATION, 0, 0), what="app configuration")
        return parse_app_configuration(data)

    def _model(self) -> str | None:
        if self._where.model:
            return self._where.model
        transport = self._connect()
        return transport.model if isinstance(transport, HidTransport) else None

    def _address(self, path: str) -> str:
        return parse_address(self._call(apdu(INS_GET_PUBLIC_ADDRESS, 0x00, 0x00, pack_bip32(path))))

    # -- Signer ----------------------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        info = self._info
        if info is not None:
            return info
        with self._gate.operation():
            self._settle()
            blind, version = self._app_config()
            model = self._model()
            info = DeviceInfo(
                family="ledger",
                model=model or "unknown",
                path=self.path,
                firmware=version,
                # A Nano with "Blind signing" off shows the fields or refuses; with it on,
                # signerd cannot tell whether the fields would be shown (see the module doc).
                shows_typed_data_fields=model in TOUCH_MODELS or not blind,
            )
            with self._lock:
                if self._transport is not None:  # still the connection it describes
                    self._info = info
            return info

    def get_address(self, path: str = DEFAULT_DERIVATION_PATH) -> str:
        with self._gate.operation():
            self._settle()
            return self._address(path)

    def sign_typed_data(
        self,
        typed_data: dict[str, Any],
        path: str = DEFAULT_DERIVATION_PATH,
        *,
        notify: Notify | None = None,
    ) -> bytes:
        # Imported here, not at start-up: eth-account costs ~0.4 s to import (its keyfile
        # module builds BLS tables), and the person is on the device for longer than that.
        from eth_account.messages import encode_typed_data

        definitions, implementation = typed_data_apdus(typed_data)
        try:
            signable = encode_typed_data(full_message=typed_data)
        except Exception as exc:
            raise ValidationError("typed_data", f"not valid EIP-712: {exc}") from exc
        digest = keccak(b"\x19\x01" + signable.header + signable.body)
        bip32 = pack_bip32(path)
        with self._gate.operation():
            self._settle(notify)
            blind, _ = self._app_config()
            model = self._model()
            if model not in TOUCH_MODELS and blind:
                if not self.allow_blind_signing:
                    raise BlindSigningRefused(
                        'The Ethereum app has "Blind signing" on: a Nano with "Raw messages" '
                        "off would then show only a hash, and the app does not report that "
                        f'setting. {RAW_MESSAGES_HELP}, and turn "Blind signing" off (or allow '
                        "blind signing in signerd's policy)."
                    )
                _tell(
                    notify,
                    "Blind signing: the Ledger shows only hashes. Sign only if it shows "
                    f"domain hash 0x{signable.header.hex()} and message hash "
                    f"0x{signable.body.hex()}, then 'Sign message'.",
                )
                vrs = self._call(
                    apdu(INS_SIGN_EIP712, 0x00, 0x00, bip32 + signable.header + signable.body),
                    interactive=True,
                    what="typed data (hashes)",
                )
                return self._finish(vrs, digest, path)
            _tell(
                notify, "Review every field on the Ledger, then choose 'Sign message' to approve."
            )
            for raw in definitions:
                self._call(raw, what="EIP-712 struct definition")
            for raw in implementation:
                _, sw = self._exchange(raw, interactive=True)
                if sw == SW_INVALID_DATA and model not in TOUCH_MODELS:
                    # A Nano with neither "Raw messages" nor "Blind signing" refuses here and
                    # shows "Blind signing must be enabled in settings".
                    raise BlindSigningRefused(
                        f"The Ledger cannot show this message's fields. {RAW_MESSAGES_HELP}, "
                        "then try again."
                    )
                if sw != SW_OK:
                    raise status_error(sw, "typed data")
            vrs = self._call(
                apdu(INS_SIGN_EIP712, 0x00, 0x01, bip32), interactive=True, what="typed data"
            )
            return self._finish(vrs, digest, path)

    def sign_message(
        self, message: bytes, path: str = DEFAULT_DERIVATION_PATH, *, notify: Notify | None = None
    ) -> bytes:
        chunks = personal_message_apdus(message, path)
        with self._gate.operation():
            self._settle(notify)
            _tell(notify, "Review the message on the Ledger, then choose 'Sign message'.")
            vrs = b""
            for raw in chunks:
                vrs = self._call(raw, interactive=True, what="message")
            prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
            return self._finish(vrs, keccak(prefix + message), path)

    def _finish(self, vrs: bytes, digest: bytes, path: str) -> bytes:
        """r || s || v, after checking the signature recovers to the device's address."""
        if len(vrs) != 65 or vrs[0] not in (27, 28):
            raise DeviceError("malformed signature from the Ledger")
        from eth_keys.datatypes import Signature

        v, r, s = vrs[0], vrs[1:33], vrs[33:65]
        signature = Signature(vrs=(v - 27, int.from_bytes(r, "big"), int.from_bytes(s, "big")))
        signer = signature.recover_public_key_from_msg_hash(digest).to_checksum_address()
        if signer != self._address(path):
            raise DeviceError("the Ledger signed something other than the request")
        return r + s + bytes([v])

    def cancel(self) -> None:
        if self._gate.cancel():
            self._drop()

    def close(self) -> None:
        self._drop()


def _tell(notify: Notify | None, line: str) -> None:
    if notify is not None:
        notify(line)
