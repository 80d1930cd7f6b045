"""What the simulated Trezor refuses before a transaction reaches a screen, as the firmware does.

Each case pins a DataError of trezor-firmware core/v2.12.4 (apps/common/definitions.py
decode_definition; apps/ethereum/sign_tx.py check_common_fields; staking.py; yielding.py;
clear_signing.py) with its exact message, driven through trezorlib. Definitions are signed
with the development keys a debug build accepts (trezorlib.testing.common.PRIVATE_KEYS_DEV).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from hashlib import sha256
from typing import Any

import pytest
from eth_account import Account
from trezorlib import cosi, ethereum, exceptions, messages, protobuf
from trezorlib.client import AppManifest, Session, get_client
from trezorlib.definitions import DefinitionPayload, Source
from trezorlib.testing.common import PRIVATE_KEYS_DEV
from trezorlib.tools import parse_path
from trezorlib.transport.udp import UdpTransport

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.devices.base import DEFAULT_DERIVATION_PATH

PATH = parse_path(DEFAULT_DERIVATION_PATH)
ACCOUNT = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=DEFAULT_DERIVATION_PATH)
DataType = messages.DefinitionType
ROUTER = "0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45"
FUNC_SIG = bytes.fromhex("11111111")
TX: dict[str, Any] = {"nonce": 0, "gas_price": 20, "gas_limit": 21000, "chain_id": 1}


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with TrezorSimulatorProcess(model="t", auto="approve") as sim:
        client = get_client(
            AppManifest(app_name="signerd-tests"), UdpTransport(sim.path.removeprefix("udp:"))
        )
        yield client.get_session()


def _payload(
    data_type: DataType = DataType.ETHEREUM_NETWORK,
    message: protobuf.MessageType | bytes | None = None,
    timestamp: int = 0xFFFF_FFFF,
) -> bytes:
    if message is None:
        message = _MESSAGES[data_type]
    if isinstance(message, protobuf.MessageType):
        writer = io.BytesIO()
        protobuf.dump_message(writer, message)
        message = writer.getvalue()
    return bytes(
        DefinitionPayload(
            magic=b"trzd1", data_type=data_type, timestamp=timestamp, data=message
        ).build()
    )


def _proof_and_signature(payload: bytes, neighbours: int = 0, signers: int = 3) -> bytes:
    digest = sha256(b"\x00" + payload).digest()
    proof = b""
    for i in range(neighbours):
        node = sha256(bytes([i])).digest()
        proof += node
        low, high = sorted((digest, node))
        digest = sha256(b"\x01" + low + high).digest()
    signature = cosi.sign_with_privkeys(digest, PRIVATE_KEYS_DEV[:signers])
    mask = (1 << signers) - 1
    return bytes([neighbours]) + proof + bytes([mask]) + signature


def _signed(data_type: DataType, message: protobuf.MessageType | None = None) -> bytes:
    payload = _payload(data_type, message)
    return payload + _proof_and_signature(payload)


_MESSAGES: dict[DataType, protobuf.MessageType] = {
    DataType.ETHEREUM_NETWORK: messages.EthereumNetworkInfo(
        chain_id=0, slip44=0, symbol="FAKE", name="Fake network"
    ),
    DataType.ETHEREUM_TOKEN: messages.EthereumTokenInfo(
        symbol="FAKE", decimals=18, address=b"", chain_id=0, name="Fake token"
    ),
    DataType.ETHEREUM_DISPLAY_FORMAT: messages.EthereumDisplayFormatInfo(
        chain_id=0, address=b"", func_sig=b"", intent="Fake intent"
    ),
}
_OTHER = {
    DataType.ETHEREUM_NETWORK: DataType.ETHEREUM_TOKEN,
    DataType.ETHEREUM_TOKEN: DataType.ETHEREUM_DISPLAY_FORMAT,
    DataType.ETHEREUM_DISPLAY_FORMAT: DataType.ETHEREUM_NETWORK,
}


def _mangled_signature(t: DataType) -> bytes:
    return _signed(t)[:-1] + b"\xff"


def _mangled_payload(t: DataType) -> bytes:
    payload = _payload(t)
    return payload[:-1] + b"\xff" + _proof_and_signature(payload)


def _bad_proof(t: DataType) -> bytes:
    payload = _payload(t)
    signed = _proof_and_signature(payload, neighbours=1)
    return payload + signed[:32] + b"\xff" + signed[33:]


def _with(t: DataType, **kwargs: Any) -> bytes:
    payload = _payload(t, **kwargs)
    return payload + _proof_and_signature(payload)


# (case, definition of the given type → bytes, the firmware's message)
CASES: list[tuple[str, Callable[[DataType], bytes], str]] = [
    ("short", lambda t: b"\x00", "Invalid definition"),
    ("bad prefix", lambda t: b"trzd2" + _signed(t)[5:], "Invalid definition"),
    (
        "type mismatch",
        lambda t: _signed(_OTHER[t], _MESSAGES[_OTHER[t]]),
        "Definition type mismatch",
    ),
    ("outdated", lambda t: _with(t, timestamp=0), "Definition is outdated"),
    ("trailing garbage", lambda t: _signed(t) + b"\x00", "Invalid definition"),
    ("missing signature", lambda t: _signed(t)[:-65], "Invalid definition"),
    ("proof length", lambda t: _payload(t) + b"\x01" + _signed(t)[-65:], "Invalid definition"),
    ("mangled signature", _mangled_signature, "Invalid definition signature"),
    ("mangled payload", _mangled_payload, "Invalid definition signature"),
    ("bad proof", _bad_proof, "Invalid definition signature"),
    (
        "one signer",
        lambda t: _payload(t) + _proof_and_signature(_payload(t), signers=1),
        "Invalid definition signature",
    ),
    ("malformed protobuf", lambda t: _with(t, message=b"\x00"), "Invalid definition"),
    (
        "protobuf mismatch",
        lambda t: _with(t, message=_MESSAGES[_OTHER[t]]),
        "Invalid definition",
    ),
]


def _refused(call: Callable[[], object], message: str) -> None:
    with pytest.raises(exceptions.TrezorFailure) as failure:
        call()
    assert failure.value.code == messages.FailureType.DataError
    assert failure.value.message == message


class _DisplayFormats(Source):
    """A host that answers the firmware's display-format request with one definition."""

    def __init__(self, encoded: bytes | None) -> None:
        self.encoded = encoded
        self.requests: list[tuple[str, ...]] = []

    def fetch_path(self, *components: str) -> bytes | None:
        self.requests.append(components)
        return self.encoded if "display-format" in components else None


@pytest.mark.parametrize(("case", "make", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_definitions_are_refused_where_the_firmware_refuses_them(
    session: Session, case: str, make: Callable[[DataType], bytes], message: str
) -> None:
    network = make(DataType.ETHEREUM_NETWORK)
    _refused(
        lambda: ethereum.get_address(
            session, parse_path("m/44h/666666h/0h"), encoded_network=network
        ),
        message,
    )
    token = messages.EthereumDefinitions(encoded_token=make(DataType.ETHEREUM_TOKEN))
    erc20 = bytes.fromhex("a9059cbb" + "00" * 12 + "11" * 20 + "00" * 31 + "01")
    _refused(
        lambda: ethereum.sign_tx(
            session, PATH, **TX, to="0x" + "dd" * 20, value=0, data=erc20, definitions=token
        ),
        message,
    )
    call = FUNC_SIG + bytes(32)
    display = messages.EthereumDefinitions(
        encoded_display_format=make(DataType.ETHEREUM_DISPLAY_FORMAT)
    )
    _refused(
        lambda: ethereum.sign_tx(
            session, PATH, **TX, to=ROUTER, value=0, data=call, definitions=display
        ),
        message,
    )
    host = _DisplayFormats(make(DataType.ETHEREUM_DISPLAY_FORMAT))
    _refused(
        lambda: ethereum.sign_tx_eip1559(
            session,
            PATH,
            nonce=0,
            gas_limit=21000,
            max_gas_fee=20,
            max_priority_fee=1,
            chain_id=1,
            to=ROUTER,
            value=0,
            data=call,
            supports_definition_request=True,
            definition_source=host,
        ),
        message,
    )
    # One request, for the router's selector on chain 1, and no token lookup after it.
    assert host.requests == [
        ("eth", "chain-id", "1", "display-format", f"{ROUTER[2:].lower()}-11111111.dat")
    ]


def test_unanswered_definition_request_signs_blind_as_eth_account(session: Session) -> None:
    host = _DisplayFormats(None)  # a host that knows no display format
    call = FUNC_SIG + bytes(32)
    v, r, s = ethereum.sign_tx(
        session,
        PATH,
        **TX,
        to=ROUTER,
        value=0,
        data=call,
        supports_definition_request=True,
        definition_source=host,
    )
    unsigned = {"nonce": 0, "gasPrice": 20, "gas": 21000, "chainId": 1, "to": ROUTER}
    expected = Account.sign_transaction({**unsigned, "value": 0, "data": call}, ACCOUNT.key)
    assert (v, int.from_bytes(r, "big"), int.from_bytes(s, "big")) == (
        expected.v,
        expected.r,
        expected.s,
    )
    assert len(host.requests) == 1


def _word(value: int | str) -> str:
    if isinstance(value, str):
        return value.removeprefix("0x").lower().rjust(64, "0")
    return format(value, "064x")


STEAKHOUSE_USDC = "0xdE6C23e561F3e55846207Ec45a91b777E0F7C889"
STRANGER = "0x" + "8b" * 20
MERKL = "0x3Ef3D8bA38EBe18DB133cEc108f4D14CE00Dd9Ae"

# (case, to, value, calldata, the firmware's message)
CALLS: list[tuple[str, str, int, str, str]] = [
    (
        "stake without source",
        "0xD523794C879D9eC028960a231F866758e405bE34",
        10**17,
        "3a29dbae",
        "Invalid staking transaction call",
    ),
    (
        "unstake misaligned",
        "0xAFA848357154a6a624686b348303EF9a13F63264",
        0,
        "76ec871c" + "00" * 9,
        "Invalid staking transaction call",
    ),
    (
        "claim with data",
        "0x7a7f0b3c23C23a31cFcb0c44709be70d4D545c6e",
        0,
        "33986ffaaa000aaa",
        "Invalid staking transaction call",
    ),
    (
        "vault deposit with ETH",
        STEAKHOUSE_USDC,
        10**18,
        "6e553f65" + _word(10**6) + _word(ACCOUNT.address),
        "Invalid data for ERC-4626 vault transaction.",
    ),
    (
        "vault withdraw of nothing",
        STEAKHOUSE_USDC,
        0,
        "b460af94" + _word(0) + _word(ACCOUNT.address) + _word(ACCOUNT.address),
        "Invalid data for ERC-4626 vault transaction.",
    ),
    (
        "vault redeem, dirty address",
        STEAKHOUSE_USDC,
        0,
        "ba087652" + _word(1) + "ff" + _word(ACCOUNT.address)[2:] + _word(ACCOUNT.address),
        "Invalid data for ERC-4626 vault transaction.",
    ),
    (
        "known vault pays a stranger",
        STEAKHOUSE_USDC,
        0,
        "6e553f65" + _word(10**6) + _word(STRANGER),
        "Vault tx: Signer receiver mismatch",
    ),
    (
        "merkl claim with ETH",
        MERKL,
        1,
        "71ee95c0",
        "Non-zero ETH transfer with claim rewards transaction not allowed",
    ),
    (
        "merkl claim truncated",
        MERKL,
        0,
        "71ee95c0" + _word(128),
        "Invalid data for claim rewards transaction",
    ),
]


@pytest.mark.parametrize(
    ("case", "to", "value", "data", "message"), CALLS, ids=[c[0] for c in CALLS]
)
def test_malformed_contract_calls_are_refused(
    session: Session, case: str, to: str, value: int, data: str, message: str
) -> None:
    _refused(
        lambda: ethereum.sign_tx(session, PATH, **TX, to=to, value=value, data=bytes.fromhex(data)),
        message,
    )


def test_common_field_refusals(session: Session) -> None:
    base = messages.EthereumSignTx(
        address_n=PATH,
        nonce=b"",
        gas_price=b"\x14",
        gas_limit=b"\x52\x08",
        value=b"",
        to=ROUTER,
        chain_id=1,
    )
    extra = messages.EthereumSignTx(**{**base.__dict__, "data_initial_chunk": b"EXTRA"})
    _refused(lambda: session.call(extra), "Invalid size of initial chunk")
    huge = messages.EthereumSignTx(
        **{**base.__dict__, "data_initial_chunk": b"A", "data_length": 16_000_001}
    )
    _refused(lambda: session.call(huge), "Data length exceeds limit")


def test_builtin_display_formats_win_over_definitions_and_requests(session: Session) -> None:
    """A call a built-in display format covers (WETH deposit() on mainnet) never looks at the
    definition sent with it nor asks the host: a broken one is no refusal there."""
    weth = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    broken = messages.EthereumDefinitions(encoded_display_format=b"\x00")
    host = _DisplayFormats(b"\x00")
    v, r, s = ethereum.sign_tx(
        session,
        PATH,
        **TX,
        to=weth,
        value=10**16,
        data=bytes.fromhex("d0e30db0"),
        definitions=broken,
        supports_definition_request=True,
        definition_source=host,
    )
    unsigned = {"nonce": 0, "gasPrice": 20, "gas": 21000, "chainId": 1, "to": weth}
    expected = Account.sign_transaction(
        {**unsigned, "value": 10**16, "data": "0xd0e30db0"}, ACCOUNT.key
    )
    assert (v, int.from_bytes(r, "big"), int.from_bytes(s, "big")) == (
        expected.v,
        expected.r,
        expected.s,
    )
    assert host.requests == []


def test_eip7702_needs_experimental_features(session: Session) -> None:
    """EthereumSignAuth7702 is an experimental message: refused while they are off."""
    _refused(
        lambda: ethereum.sign_auth_eip7702(
            session, PATH, chain_id=1, delegate="0x" + "00" * 20, nonce=0
        ),
        "Failed to decode message: Experimental features are disabled.",
    )
