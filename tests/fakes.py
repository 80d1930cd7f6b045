"""FakeSigner: an in-process device for tests of the service, the worker and the server.

It follows the Signer contract of signerd/devices/base.py exactly, with real keys: those of
the public test mnemonic (emulator/keys.py), signing like eth-account, so its signatures
verify like a device's. A test scripts the device (``state``) and the person (``answer``,
``delay``, or ``press_yes()`` / ``press_no()`` like an emulator's driver), and reads what
the device was asked (``operations``, ``prompts``): "the device was never asked to sign" is
``fake.prompts == 0``.

    fake = FakeSigner(answer="hang")       # a review waits for the person or a cancel
    ... fake.wait_for_review(); fake.cancel()   # the pending operation raises Cancelled
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any, Literal

from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct, encode_typed_data

from emulator.keys import DEFAULT_MNEMONIC
from signerd.devices.base import (
    DEFAULT_DERIVATION_PATH,
    DeviceInfo,
    Notify,
    OperationGate,
    Signer,
)
from signerd.errors import (
    ApprovalTimeout,
    BlindSigningRefused,
    DeviceBusy,
    DeviceLocked,
    DeviceUnavailable,
    UserRejected,
    ValidationError,
)

Account.enable_unaudited_hdwallet_features()

Answer = Literal["approve", "reject", "hang"]
"""What the person does with a review: approve, reject, or nothing until pressed/cancelled."""

State = Literal["ready", "unplugged", "busy", "locked"]
"""What the device does with any operation: answer, or fail with that error."""

SIGNING = ("sign_typed_data", "sign_message")


@cache
def _key(mnemonic: str, path: str) -> Any:
    try:
        return Account.from_mnemonic(mnemonic, account_path=path)
    except ValueError as exc:
        raise ValidationError("path", f"not a BIP-32 path: {path!r} ({exc})") from None


class FakeSigner(Signer):
    """A scriptable device; settings may change at any time, from any thread."""

    def __init__(
        self,
        path: str = "fake",
        *,
        allow_blind_signing: bool = False,
        answer: Answer = "approve",
        state: State = "ready",
        delay: float = 0.0,
        mnemonic: str = DEFAULT_MNEMONIC,
        shows_typed_data_fields: bool = True,
        hang_limit: float = 30.0,
    ) -> None:
        self.path = path
        self.allow_blind_signing = allow_blind_signing
        self.answer: Answer = answer
        self.state: State = state
        self.delay = delay  # seconds the person takes before answering a review
        self.mnemonic = mnemonic
        self.shows_typed_data_fields = shows_typed_data_fields
        self.hang_limit = hang_limit  # the signer's own bound: ApprovalTimeout after it
        self.operations: list[str] = []  # every operation that reached the device, in order
        self.connections = 0  # links opened (the first operation opens one)
        self._gate = OperationGate()
        self._connected = False
        self._severed = False  # close() or unplug() during the operation
        self._info: DeviceInfo | None = None
        self._wake = threading.Event()
        self._pressed: Answer | None = None
        self._reviewing = threading.Event()

    @property
    def prompts(self) -> int:
        """Operations shown to the person for approval."""
        return sum(op in SIGNING for op in self.operations)

    # -- the device's side ------------------------------------------------------------------

    def _reach(self, operation: str) -> None:
        """Open the link if needed and let the device take the operation, or fail as scripted."""
        if self.state == "unplugged":
            self._drop()
            raise DeviceUnavailable(f"nothing answers at {self.path} (unplugged)")
        if not self._connected:
            self._connected, self._severed = True, False
            self.connections += 1
        if self.state == "busy":
            raise DeviceBusy(f"the device at {self.path} is in use by another program")
        if self.state == "locked":
            raise DeviceLocked("the device is locked: enter its PIN first")
        self.operations.append(operation)

    def _drop(self) -> None:
        self._connected = False
        self._info = None

    def _review(self, notify: Notify | None) -> None:
        """Show a review and wait for the person's answer (or a cancel, close or unplug)."""
        self._pressed = None
        self._wake.clear()
        self._reviewing.set()
        try:
            if notify is not None:
                notify("Confirm on the fake device")
            wait = self.hang_limit if self.answer == "hang" else self.delay
            if wait > 0 and not (self._gate.cancelled or self._severed):
                self._wake.wait(wait)
            self._gate.check()
            if self._severed:
                raise DeviceUnavailable(f"the link to {self.path} was closed")
            answer = self._pressed or self.answer
            if answer == "hang":
                raise ApprovalTimeout(f"no answer on the fake device within {wait:.0f}s")
            if answer == "reject":
                raise UserRejected("rejected on the fake device")
        finally:
            self._reviewing.clear()

    # -- Signer -----------------------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        info = self._info
        if info is None:
            with self._gate.operation():
                self._reach("info")
                info = DeviceInfo(
                    family="fake",
                    model="FakeSigner",
                    path=self.path,
                    firmware="1.0.0",
                    shows_typed_data_fields=self.shows_typed_data_fields,
                )
                self._info = info
        return info

    def get_address(self, path: str = DEFAULT_DERIVATION_PATH) -> str:
        with self._gate.operation():
            self._reach("get_address")
            return str(_key(self.mnemonic, path).address)

    def sign_typed_data(
        self,
        typed_data: dict[str, Any],
        path: str = DEFAULT_DERIVATION_PATH,
        *,
        notify: Notify | None = None,
    ) -> bytes:
        try:
            signable = encode_typed_data(full_message=typed_data)
        except Exception as exc:
            raise ValidationError("typed_data", f"not valid EIP-712: {exc}") from exc
        if not self.info.shows_typed_data_fields and not self.allow_blind_signing:
            raise BlindSigningRefused("the fake device can only sign EIP-712 hashes")
        return self._sign("sign_typed_data", signable, path, notify)

    def sign_message(
        self, message: bytes, path: str = DEFAULT_DERIVATION_PATH, *, notify: Notify | None = None
    ) -> bytes:
        return self._sign("sign_message", encode_defunct(primitive=message), path, notify)

    def _sign(
        self, operation: str, signable: SignableMessage, path: str, notify: Notify | None
    ) -> bytes:
        key = _key(self.mnemonic, path)
        with self._gate.operation():
            self._reach(operation)
            self._review(notify)
            return bytes(Account.sign_message(signable, key.key).signature)

    def is_alive(self) -> bool:
        return self.state != "unplugged"

    def cancel(self) -> None:
        if self._gate.cancel():
            self._wake.set()

    def close(self) -> None:
        self._severed = True
        self._drop()
        self._wake.set()

    # -- the person's and the cable's side (like an EmulatorProcess driver) -----------------

    def wait_for_review(self, timeout: float = 10.0) -> None:
        if not self._reviewing.wait(timeout):
            raise TimeoutError("no review on the fake device")

    def press_yes(self, timeout: float = 10.0) -> None:
        self._press("approve", timeout)

    def press_no(self, timeout: float = 10.0) -> None:
        self._press("reject", timeout)

    def _press(self, answer: Answer, timeout: float) -> None:
        self.wait_for_review(timeout)
        self._pressed = answer
        self._wake.set()

    def unplug(self) -> None:
        """The cable is pulled: every operation, the pending one too, is DeviceUnavailable."""
        self.state = "unplugged"
        self._severed = True
        self._drop()
        self._wake.set()

    def replug(self) -> None:
        self.state = "ready"
