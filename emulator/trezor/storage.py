"""The simulated Trezor's storage and sessions: what WipeDevice erases and LoadDevice sets.

trezor-firmware's own device tests (tests/device_tests, with trezorlib's `TrezorTestContext`)
wipe the device through the debug link before every test and load a mnemonic, a label and
passphrase protection with `LoadDevice` (core/src/apps/debug/load_device.py); each session
(`Initialize.session_id`) then derives its seed once, asking the host for the passphrase
with `PassphraseRequest` when protection is on (core/src/apps/common/passphrase.py). This
module keeps that state and builds the `Features` that report it; the messages themselves
are answered in `device.py` (wire) and `server.py` (debug link).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from trezorlib import messages

from emulator.keys import Keyring
from emulator.trezor.models import ModelSpec
from emulator.trezor.wire import WireFailure

# Sessions the firmware keeps at most (core/src/storage/cache.py: _MAX_SESSIONS_COUNT).
MAX_SESSIONS = 10


def not_initialized() -> WireFailure:
    return WireFailure(messages.FailureType.NotInitialized, "Device is not initialized")


@dataclass
class _Seed:
    """What LoadDevice stored."""

    mnemonic: str
    check: bool
    pin: str | None
    passphrase_protection: bool
    label: str | None
    needs_backup: bool
    no_backup: bool


class Storage:
    """Seed, settings and sessions, shared by the device thread and the debug thread."""

    def __init__(self, keyring: Keyring | None, label: str | None = None) -> None:
        self._lock = threading.Lock()
        self._seed: _Seed | None = None
        # Derived key trees by passphrase: PBKDF2 is slow enough to be worth keeping.
        self._trees: dict[str, Keyring] = {}
        self._sessions: dict[bytes, str | None] = {}
        self.flags = 0
        if keyring is not None:
            self._seed = _Seed(keyring.mnemonic, True, None, False, label, False, False)
            self._trees[""] = keyring

    @property
    def initialized(self) -> bool:
        with self._lock:
            return self._seed is not None

    @property
    def passphrase_protection(self) -> bool:
        with self._lock:
            return self._seed is not None and self._seed.passphrase_protection

    def wipe(self) -> None:
        """Forget the seed, settings and every session, as WipeDevice does."""
        with self._lock:
            self._seed = None
            self._trees = {}
            self._sessions = {}
            self.flags = 0

    def load(self, msg: messages.LoadDevice) -> None:
        """Store a LoadDevice's seed and settings; refused on an initialized device."""
        with self._lock:
            if self._seed is not None:
                raise WireFailure(messages.FailureType.UnexpectedMessage, "Already initialized")
            if len(msg.mnemonics) != 1:
                # SLIP-39 shares are not simulated; the Ethereum suite loads BIP-39 only.
                raise WireFailure(messages.FailureType.DataError, "Only one BIP-39 mnemonic")
            mnemonic = " ".join(msg.mnemonics[0].split())
            try:
                tree = Keyring(mnemonic, check=not msg.skip_checksum)
            except ValueError as exc:
                raise WireFailure(messages.FailureType.DataError, "Mnemonic is not valid") from exc
            self._seed = _Seed(
                mnemonic,
                not msg.skip_checksum,
                msg.pin or None,
                bool(msg.passphrase_protection),
                msg.label,
                bool(msg.needs_backup),
                bool(msg.no_backup),
            )
            self._trees = {"": tree}
            self._sessions = {}

    def open_session(self, session_id: bytes | None) -> bytes:
        """Resume a known session or start a new one (Initialize)."""
        with self._lock:
            if session_id is not None and session_id in self._sessions:
                return session_id
            if len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
            new_id = secrets.token_bytes(32)
            self._sessions[new_id] = None
            return new_id

    def end_session(self, session_id: bytes) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def keyring(self, session_id: bytes | None) -> Keyring | None:
        """The session's key tree; None while its passphrase is still to be asked."""
        with self._lock:
            if self._seed is None:
                raise not_initialized()
            if not self._seed.passphrase_protection:
                return self._trees[""]
            passphrase = None if session_id is None else self._sessions.get(session_id)
            return None if passphrase is None else self._tree(passphrase)

    def set_passphrase(self, session_id: bytes | None, passphrase: str) -> Keyring:
        with self._lock:
            if session_id is not None and session_id in self._sessions:
                self._sessions[session_id] = passphrase
            return self._tree(passphrase)

    def _tree(self, passphrase: str) -> Keyring:
        assert self._seed is not None
        if passphrase not in self._trees:
            self._trees[passphrase] = Keyring(
                self._seed.mnemonic, passphrase, check=self._seed.check
            )
        return self._trees[passphrase]

    def features(
        self, model: ModelSpec, device_id: str, session_id: bytes | None
    ) -> messages.Features:
        """Features as the firmware reports them for this model, storage and session."""
        major, minor, patch = model.version
        with self._lock:
            seed = self._seed
            return messages.Features(
                vendor="trezor.io",
                major_version=major,
                minor_version=minor,
                patch_version=patch,
                device_id=device_id,
                language="en-US",
                unlocked=True,
                imported=False,
                model=model.name,
                internal_model=model.internal_model,
                capabilities=list(model.capabilities),
                safety_checks=messages.SafetyCheckLevel.Strict,
                session_id=session_id,
                passphrase_always_on_device=False,
                busy=False,
                # What a trezor-emu-core build reports: trezorlib's test context reseeds it.
                fw_vendor="EMULATOR",
                initialized=seed is not None,
                label=seed.label if seed else None,
                pin_protection=bool(seed and seed.pin),
                passphrase_protection=bool(seed and seed.passphrase_protection),
                needs_backup=bool(seed and seed.needs_backup),
                no_backup=bool(seed and seed.no_backup),
                backup_type=messages.BackupType.Bip39 if seed else None,
                flags=self.flags,
            )
