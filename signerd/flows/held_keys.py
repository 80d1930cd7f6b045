"""The held-keys flow: session keys the daemon holds for agents, usable once unlocked on device.

At rest each key is sealed (signerd.payments.keystore) in the store. After a start the keys
are locked: ``unlock`` asks the device for the key-encryption secret, the person confirms on
the device, and the keys are unsealed into memory, where they stay until the daemon stops.
Nothing unsealed is ever written anywhere. Using a key never waits for the person: a payment
on a locked daemon fails at once with KeysLocked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from signerd.config import Config
from signerd.devices import Signer
from signerd.errors import HeldKeyNotFound, KeysLocked, KeysWrongDevice, StoreError
from signerd.payments import keystore
from signerd.store import KeystoreRecord, Store
from signerd.worker import DeviceWorker

if TYPE_CHECKING:  # imported where a key is made: eth-keys' import is slow
    from eth_keys.datatypes import PrivateKey

LOG = logging.getLogger(__name__)


class HeldKeys:
    """The daemon's held session keys; used from its event loop."""

    def __init__(self, config: Config, worker: DeviceWorker, store: Store) -> None:
        self.config = config
        self.worker = worker
        self.store = store
        self._kek: bytes | None = None  # in memory only, from unlock until the daemon stops
        self._keys: dict[str, PrivateKey] = {}  # lowercase address -> unsealed key
        self._unlocking = asyncio.Lock()
        self._sealed_count: int | None = None

    @property
    def locked(self) -> bool:
        return self._kek is None

    def summary(self) -> dict[str, bool | int]:
        """What ``signerd_status`` says of the held keys: locked or not, and how many."""
        if self._kek is not None:
            return {"locked": False, "held": len(self._keys)}
        if self._sealed_count is None:
            # Asked once: while locked nothing is added (holding needs the unlocked secret), and
            # status is the daemon's hottest method.
            self._sealed_count = self.store.count_held_keys()
        return {"locked": True, "held": self._sealed_count}

    def holds(self, address: str) -> bool:
        """Whether the daemon holds the session key of ``address`` (locked or not)."""
        return address.lower() in self._keys or self.store.held_key(address) is not None

    async def signing_key(self, address: str) -> PrivateKey:
        """The held key of ``address``; HeldKeyNotFound if none, KeysLocked before unlock."""
        key = self._keys.get(address.lower())
        if key is not None:
            return key
        if not self.holds(address):
            raise HeldKeyNotFound(f"the daemon holds no session key for {address}")
        raise KeysLocked(
            f"the session key of {address} is sealed: unlock the held keys on the device "
            "(signerd_unlock; at a shell, `signerd unlock`) first"
        )

    async def unlock(self, progress: Callable[[str], None]) -> int:
        """Ask the device for the secret (the person confirms), unseal every held key.

        Returns the number of keys held. Already unlocked: returns at once. The first unlock
        of a data directory creates its keystore. KeysWrongDevice if this device's secret
        does not open the keys; the device errors of signerd.errors otherwise.
        """
        async with self._unlocking:
            if self._kek is None:
                kek = await self._ask_device(progress)
                self._keys = await asyncio.to_thread(self._unseal_all, kek)
                self._kek = kek
                LOG.info("held session keys unlocked (%d keys)", len(self._keys))
            return len(self._keys)

    async def hold(self, secret: bytes) -> str:
        """Seal and store the key of ``secret`` (unlocked only); its checksummed address."""
        kek = self._kek
        if kek is None:
            raise KeysLocked("unlock the held keys on the device before holding a new one")
        from eth_keys.datatypes import PrivateKey  # imported by the unlock already

        key = PrivateKey(secret)
        address = str(key.public_key.to_checksum_address())
        sealed = keystore.seal(kek, address, key.to_bytes())
        await asyncio.shield(asyncio.to_thread(self.store.add_held_key, address, sealed))
        self._keys[address.lower()] = key
        return address

    async def _ask_device(self, progress: Callable[[str], None]) -> bytes:
        record = self.store.keystore()
        account_path = self.config.derivation_path
        daemon_id = record.daemon_id if record else keystore.new_daemon_id()

        def release(signer: Signer) -> tuple[str, bytes]:
            method = record.method if record else keystore.unseal_method(signer)
            path = record.path if record else _path_for(method, account_path)
            return method, keystore.unseal_secret(signer, daemon_id, method, path, progress)

        method, kek = await self.worker.run(
            release,
            timeout=self.config.approval_timeout,
            queue_timeout=self.config.queue_timeout,
            on_start=lambda: progress(keystore.UNLOCK_PROMPT),
        )
        # AES-GCM in a thread: its first use imports pycryptodome, which the loop never waits for.
        if record is None:
            account = await self.worker.account(account_path)
            made = KeystoreRecord(
                daemon_id,
                method,
                _path_for(method, account_path),
                account,
                await asyncio.to_thread(keystore.check_blob, kek),
                time.time(),
            )
            record = await asyncio.to_thread(self.store.create_keystore, made)
        if not await asyncio.to_thread(keystore.opens, kek, record.check_blob):
            raise KeysWrongDevice(
                f"this device cannot open the held keys: they were sealed by the device of "
                f"account {record.account} ({record.method}); connect that device, with the "
                "same seed and passphrase"
            )
        return kek

    def _unseal_all(self, kek: bytes) -> dict[str, PrivateKey]:
        from eth_keys.datatypes import PrivateKey

        keys: dict[str, PrivateKey] = {}
        for address, sealed in self.store.held_keys().items():
            try:
                key = PrivateKey(keystore.unseal(kek, address, sealed))
            except ValueError:
                raise StoreError(f"the sealed key of {address} is damaged") from None
            if key.public_key.to_checksum_address().lower() != address.lower():
                raise StoreError(f"the sealed key of {address} is another address's")
            keys[address.lower()] = key
        return keys


def _path_for(method: str, account_path: str) -> str:
    return keystore.TREZOR_PATH if method == keystore.METHOD_CIPHER_KEY_VALUE else account_path
