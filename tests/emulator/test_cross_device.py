"""One grant, every device: the same typed data signed by each family is the same bytes.

The simulated Ledger (through LedgerSigner) and the simulated Trezor (through TrezorSigner)
derive from the same BIP-39 seed, so their signatures of one grant must be byte-identical,
recover to the master address, and equal eth-account's. The real emulators, when
configured, must give the same bytes again (deterministic RFC 6979 signatures).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from emulator.keys import DEFAULT_MNEMONIC, MASTER_ADDRESS
from emulator.process import EmulatorProcess
from signerd.devices.base import DEFAULT_DERIVATION_PATH, Signer
from signerd.devices.ledger import LedgerSigner
from signerd.devices.trezor import TrezorSigner
from signerd.grants import (
    build_grant_typed_data,
    grant_digest,
    parse_grant_request,
    recover_signer,
    signed_grant,
    verify_grant,
)
from signerd.payments import keystore
from tests.support import (
    NOW_SECONDS,
    SESSION,
    daily_usdc,
    grant_params,
    slip11_reference,
    some_eth,
    start_simulator,
)

# BIP-39 reference vector 2 (entropy 7f7f...): public, and not the simulators' default seed.
OTHER_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def account_of(mnemonic: str) -> Any:
    return Account.from_mnemonic(mnemonic, account_path=DEFAULT_DERIVATION_PATH)


def grant_for(master: str) -> dict[str, Any]:
    """A grant as the daemon renders it: allowances, targets, summary and all."""
    params = grant_params(sessionKey=SESSION, allowances=[daily_usdc(), some_eth()])
    request = parse_grant_request(params, now=NOW_SECONDS)
    return build_grant_typed_data(
        request, account=master, agent='"weather-bot" via uid 1000 pid 42 exe python3', nonce=7
    )


def signer_for(device: EmulatorProcess) -> Signer:
    if device.family == "trezor":
        return TrezorSigner(device.path)
    return LedgerSigner(device.path)


def sign_on(device: EmulatorProcess, typed_data: dict[str, Any]) -> tuple[str, bytes]:
    """(address, signature) from the device, approving with the device's own driver."""
    with signer_for(device) as signer, ThreadPoolExecutor(1) as pool:
        address = signer.get_address()
        pending = pool.submit(signer.sign_typed_data, typed_data)
        if device.auto is None:
            device.press_yes()
        return address, pending.result(timeout=120)


@pytest.mark.parametrize(
    "mnemonic", [DEFAULT_MNEMONIC, OTHER_MNEMONIC], ids=["default-seed", "other-seed"]
)
def test_simulated_ledger_and_trezor_sign_the_same_bytes(tmp_path: Path, mnemonic: str) -> None:
    expected = account_of(mnemonic)
    assert (expected.address == MASTER_ADDRESS) == (mnemonic == DEFAULT_MNEMONIC)
    typed_data = grant_for(expected.address)

    signatures: dict[str, bytes] = {}
    for family in ("ledger", "trezor"):
        device = start_simulator(family, tmp_path, auto="approve", mnemonic=mnemonic)
        try:
            address, signatures[family] = sign_on(device, typed_data)
        finally:
            device.stop()
        assert address == expected.address

    assert signatures["ledger"] == signatures["trezor"]
    reference = bytes(Account.sign_typed_data(expected.key, full_message=typed_data).signature)
    assert signatures["ledger"] == reference
    assert recover_signer(grant_digest(typed_data), signatures["ledger"]) == expected.address
    document = signed_grant(typed_data, signatures["trezor"], expected.address)
    verification = verify_grant(document, expected_signer=expected.address, now=NOW_SECONDS + 60)
    assert verification.valid, verification


def test_every_family_signs_the_grant_like_eth_account(device: EmulatorProcess) -> None:
    """Approved on the device by its driver: simulators, and real emulators when configured."""
    typed_data = grant_for(MASTER_ADDRESS)
    address, signature = sign_on(device, typed_data)
    assert address == MASTER_ADDRESS
    reference = Account.sign_typed_data(account_of(DEFAULT_MNEMONIC).key, full_message=typed_data)
    assert signature == bytes(reference.signature)
    assert recover_signer(grant_digest(typed_data), signature) == MASTER_ADDRESS


def test_every_family_releases_the_held_keys_secret_from_the_seed(device: EmulatorProcess) -> None:
    """The secret that seals held session keys, released on the device as a person would:
    a Trezor's CipherKeyValue, a Ledger's signature of the "signerd keystore" message. Real
    firmware (when configured) must release the same secret as the simulator, or keys held
    under one could not be unlocked with the other."""
    daemon_id = "00112233445566778899aabbccddeeff"
    with signer_for(device) as signer, ThreadPoolExecutor(1) as pool:
        method = keystore.unseal_method(signer)
        pending = pool.submit(
            keystore.unseal_secret, signer, daemon_id, method, DEFAULT_DERIVATION_PATH
        )
        if device.auto is None:
            device.press_yes()
        secret = pending.result(timeout=120)
    if device.family == "trezor":
        assert method == keystore.METHOD_CIPHER_KEY_VALUE
        value = hashlib.sha256(b"signerd keystore\x00" + daemon_id.encode()).digest()
        material = slip11_reference(
            DEFAULT_MNEMONIC, keystore.TREZOR_PATH, keystore.KEY_NAME, value
        )
    else:
        assert method == keystore.METHOD_TYPED_DATA
        unlock = keystore.unlock_typed_data(daemon_id)
        signed = Account.sign_typed_data(account_of(DEFAULT_MNEMONIC).key, full_message=unlock)
        material = bytes(signed.signature)[:64]
    assert secret == keystore.derive_kek(material, daemon_id, method)
