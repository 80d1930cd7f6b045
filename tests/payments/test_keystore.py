"""Held session keys: sealing, unlocking on the device, and the Trezor's CipherKeyValue.

In process on a FakeSigner (the device-independent flow: custody "daemon", locked after a
restart until unlocked, another seed refused), then SLIP-11 on the simulated Trezor against
the firmware's own device-test vectors and an independent computation from the mnemonic.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from emulator.keys import DEFAULT_MNEMONIC, Keyring
from emulator.trezor.cipher import compute_cipher_key_value
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.devices.trezor import TrezorSigner
from signerd.errors import (
    HeldKeyNotFound,
    KeysLocked,
    KeysWrongDevice,
    UserRejected,
    ValidationError,
)
from signerd.payments import keystore
from tests.fakes import FakeSigner
from tests.flows.harness import Harness, running
from tests.support import grant_params, slip11_reference

OTHER_MNEMONIC = "all all all all all all all all all all all all"
# trezor-firmware's device tests of CipherKeyValue run on this seed (tests/common.py).
FIRMWARE_TEST_MNEMONIC = (
    "alcohol woman abuse must during monitor noble actual mixed trade anger aisle"
)
# (ask_on_encrypt, ask_on_decrypt) -> the firmware's answer for path m/0/1/2, key "test",
# value "testing message!" (trezor-firmware tests/device_tests/misc/test_msg_cipherkeyvalue.py).
FIRMWARE_VECTORS = {
    (True, True): "676faf8f13272af601776bc31bc14e8f",
    (True, False): "5aa0fbcb9d7fa669880745479d80c622",
    (False, True): "958d4f63269b61044aaedc900c8d6208",
    (False, False): "e0cf0eb0425947000eb546cc3994bc6c",
}


def held_params() -> dict[str, Any]:
    params = grant_params()
    del params["sessionKey"]
    return {**params, "custody": "daemon"}


def recovers(key: Any, address: str) -> bool:
    """Whether a message signed with ``key`` recovers to ``address``."""
    message = encode_defunct(text="paid by a held key")
    signature = Account.sign_message(message, key.to_bytes()).signature
    return bool(Account.recover_message(message, signature=signature) == address)


async def request_held(harness: Harness) -> str:
    reply = await harness.call("signerd_requestGrant", held_params())
    assert "sessionPrivateKey" not in reply
    assert reply["custody"] == "daemon"
    return str(reply["grant"]["typedData"]["message"]["sessionKey"])


def test_a_held_key_is_unlocked_once_and_signs_for_its_grant(tmp_path: Path) -> None:
    async def scenario() -> None:
        with running(tmp_path, FakeSigner()) as harness:
            first = await request_held(harness)
            # The person unlocked (one review), then approved the grant (another).
            assert harness.fake.prompts == 2
            assert keystore.UNLOCK_PROMPT in harness.progress
            second = await request_held(harness)
            assert harness.fake.prompts == 3  # unlocked already: only the grant
            keys = harness.daemon.keys
            assert keys.holds(first) and keys.holds(second) and first != second
            assert recovers(await keys.signing_key(first), first)
            assert recovers(await keys.signing_key(second.lower()), second)
            with pytest.raises(HeldKeyNotFound):
                await keys.signing_key("0x" + "22" * 20)

    asyncio.run(scenario())


def test_an_agent_cannot_name_a_held_key_as_its_own(tmp_path: Path) -> None:
    """Payments are signed with the held key of the grant's session key: a grant for another
    agent naming that key would spend from the held key's funds. Refused before the device,
    locked or not."""

    async def scenario() -> None:
        with running(tmp_path, FakeSigner()) as harness:
            held = await request_held(harness)
        with running(tmp_path, FakeSigner()) as harness:  # restarted: the keys are sealed
            for locked in (True, False):
                assert harness.daemon.keys.locked is locked
                with pytest.raises(ValidationError) as caught:
                    await harness.call("signerd_requestGrant", grant_params(sessionKey=held))
                assert caught.value.field == "sessionKey"
                assert "the daemon holds for another grant" in caught.value.message
                if locked:
                    await harness.call("signerd_unlock", {})
            assert harness.fake.prompts == 1  # the unlock; no grant was shown
            assert not harness.daemon.store.list_grants(session_key=held)[1:]

    asyncio.run(scenario())


def test_after_a_restart_held_keys_are_locked_until_unlocked(tmp_path: Path) -> None:
    async def scenario() -> None:
        with running(tmp_path, FakeSigner()) as harness:
            address = await request_held(harness)
        with running(tmp_path, FakeSigner()) as harness:
            keys = harness.daemon.keys
            assert keys.locked and keys.holds(address)
            status = await harness.call("signerd_status", {})
            assert status["heldKeys"] == {"locked": True, "held": 1}
            with pytest.raises(KeysLocked):
                await keys.signing_key(address)
            assert harness.fake.prompts == 0  # using a key never asks the person
            reply = await harness.call("signerd_unlock", {})
            assert reply == {"unlocked": True, "held": 1}
            assert harness.fake.prompts == 1
            assert recovers(await keys.signing_key(address), address)
            status = await harness.call("signerd_status", {})
            assert status["heldKeys"] == {"locked": False, "held": 1}
            assert await harness.call("signerd_unlock", {}) == {"unlocked": True, "held": 1}
            assert harness.fake.prompts == 1

    asyncio.run(scenario())


def test_another_seed_cannot_unlock(tmp_path: Path) -> None:
    async def scenario() -> None:
        with running(tmp_path, FakeSigner()) as harness:
            address = await request_held(harness)
        with running(tmp_path, FakeSigner(mnemonic=OTHER_MNEMONIC)) as harness:
            with pytest.raises(KeysWrongDevice, match="cannot open the held keys"):
                await harness.call("signerd_unlock", {})
            with pytest.raises(KeysLocked):
                await harness.daemon.keys.signing_key(address)

    asyncio.run(scenario())


def test_a_refused_unlock_leaves_no_grant_and_no_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        with running(tmp_path, FakeSigner(answer="reject")) as harness:
            with pytest.raises(UserRejected):
                await harness.call("signerd_requestGrant", held_params())
            assert harness.daemon.store.list_grants(now=0.0, limit=10) == []
            assert harness.daemon.store.held_keys() == {}
            assert harness.daemon.keys.locked

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"generate": True}, "custody"), ({"custody": "agent-and-daemon"}, "custody")],
)
def test_custody_is_daemon_or_agent(tmp_path: Path, extra: dict[str, Any], field: str) -> None:
    async def scenario() -> None:
        with running(tmp_path, FakeSigner()) as harness:
            with pytest.raises(ValidationError) as refused:
                await harness.call("signerd_requestGrant", {**held_params(), **extra})
            assert refused.value.data == {"field": field}
            assert harness.fake.operations == []

    asyncio.run(scenario())


# -- CipherKeyValue (SLIP-11) ----------------------------------------------------------------


@pytest.mark.parametrize(("asks", "expected"), FIRMWARE_VECTORS.items())
def test_the_simulated_computation_gives_the_firmware_vectors(
    asks: tuple[bool, bool], expected: str
) -> None:
    node_key = Keyring(FIRMWARE_TEST_MNEMONIC).private_key([0, 1, 2])
    ask_on_encrypt, ask_on_decrypt = asks
    options = {"ask_on_encrypt": ask_on_encrypt, "ask_on_decrypt": ask_on_decrypt}
    encrypted = compute_cipher_key_value(
        node_key, "test", b"testing message!", encrypt=True, **options
    )
    assert encrypted.hex() == expected
    decrypted = compute_cipher_key_value(node_key, "test", encrypted, encrypt=False, **options)
    assert decrypted == b"testing message!"


@pytest.mark.parametrize(
    ("model", "screen"),
    [
        ("safe3", "Encrypt value\nsignerd held keys"),
        # The One splits the key name into rows of 16 characters.
        ("one", "Encrypt value of this key?\nsignerd held key\ns"),
    ],
)
def test_the_simulated_trezor_answers_cipher_key_value_as_the_firmware(
    tmp_path: Path, model: str, screen: str
) -> None:
    log = tmp_path / "trezor-sim.log"
    with TrezorSimulatorProcess(model=model, auto="approve", log_path=log) as device:
        signer = TrezorSigner(device.path)
        try:
            value = hashlib.sha256(b"a daemon id").digest()
            secret = signer.encrypt_key_value(keystore.TREZOR_PATH, keystore.KEY_NAME, value)
            assert secret == slip11_reference(
                DEFAULT_MNEMONIC, keystore.TREZOR_PATH, keystore.KEY_NAME, value
            )
            # The person confirmed the key name on the device's own CipherKeyValue screen.
            assert device.screen_text() == screen
            vector = signer.encrypt_key_value("m/0/1/2", "test", b"testing message!")
            assert len(vector) == 16 and vector != secret
        finally:
            signer.close()
