"""EthereumSignTx and EthereumSignTxEIP1559 on the simulated Trezor.

Follows trezor-firmware core/src/apps/ethereum/sign_tx.py and sign_tx_eip1559.py at
core/v2.12.4: the same field checks, data streamed from the host in `EthereumTxRequest
(data_length)` / `EthereumTxAck(data_chunk)` rounds of at most 1024 bytes, the same digest
(legacy: rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0, 0]) with the optional
`tx_type` first; EIP-1559: 0x02 ‖ rlp([chainId, nonce, maxPriorityFee, maxFee, gasLimit, to,
value, data, accessList])), the same v (legacy: 27/28 + 2·chainId + 8, or 0/1 above
`MAX_CHAIN_ID`; EIP-1559: 0/1). Screens: the calldata when there is any, the recipient, and
the summary held to confirm (core/src/trezor/ui/layouts/*/__init__.py confirm_ethereum_tx).

The chain's network (built in or a signed definition, `networks.py`) decides which key
paths are allowed and the amount's symbol. The first 6144 bytes of calldata are loaded before
the firmware looks at the call (staking, vaults, clear signing: `contract_calls.py`, with
their refusals and definition requests). Not reproduced: clear signing, staking and token
screens (the generic screens stand in: the signature is the same, the screen count differs)
and payment requests.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import rlp
from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak
from trezorlib import messages

from emulator.keys import Keyring
from emulator.trezor import contract_calls, layouts, networks
from emulator.trezor.definitions import decode_definition
from emulator.trezor.layouts import BR, Screen, ScreenKind
from emulator.trezor.models import ModelSpec
from emulator.trezor.wire import data_error

MAX_CHAIN_ID = (0xFFFF_FFFF - 36) // 2
DATA_CHUNK_SIZE = 1024
WEI_PER_ETH = Decimal(10) ** 18


class Device(Protocol):
    keyring: Keyring
    model: ModelSpec

    def confirm(self, screen: Screen) -> None: ...

    def request_tx_data(self, length: int) -> bytes: ...

    def request_definitions(
        self, chain_id: int, address: bytes, func_sig: bytes | None
    ) -> messages.EthereumDefinitions | None: ...


def _network(
    msg: messages.EthereumSignTx | messages.EthereumSignTxEIP1559,
) -> networks.Network | None:
    """with_keychain_from_chain_id: the chain's network, before any field is checked."""
    encoded = msg.definitions.encoded_network if msg.definitions else None
    network = networks.resolve(encoded, chain_id=msg.chain_id)
    token = msg.definitions.encoded_token if msg.definitions else None
    if network is not None and token is not None:
        # Definitions.from_encoded decodes (and so checks) a token once the network is
        # known; the token's own screens are not reproduced.
        decode_definition(bytes(token), messages.EthereumTokenInfo)
    return network


def _key(
    device: Device,
    msg: messages.EthereumSignTx | messages.EthereumSignTxEIP1559,
    network: networks.Network | None,
) -> PrivateKey:
    """paths.validate_path, then the key."""
    networks.check_path(list(msg.address_n), network)
    return PrivateKey(device.keyring.private_key(list(msg.address_n)))


def _check_common(msg: messages.EthereumSignTx | messages.EthereumSignTxEIP1559) -> bytes:
    """check_common_fields: data lengths, chain id, recipient; the recipient's bytes."""
    data_length = msg.data_length or 0
    initial = bytes(msg.data_initial_chunk or b"")
    if data_length > 0:
        if not initial:
            raise data_error("Data length provided, but no initial chunk")
        # The firmware's RLP writer takes at most 2^24 bytes; it stops well below.
        if data_length > 16_000_000:
            raise data_error("Data length exceeds limit")
    if len(initial) > data_length:
        raise data_error("Invalid size of initial chunk")
    if len(msg.to or "") not in (0, 40, 42):
        raise data_error("Invalid recipient address")
    if not msg.to and data_length == 0:
        raise data_error("Contract creation without data")
    if msg.chain_id == 0:
        raise data_error("Chain ID out of bounds")
    if len(bytes(msg.value)) > 32:
        raise data_error("Value out of bounds")
    to = msg.to or ""
    return bytes.fromhex(to[2:] if to.startswith(("0x", "0X")) else to)


def _load_data(device: Device, data: bytes, total: int) -> bytes:
    """_get_next_chunk rounds until ``total`` bytes are there."""
    loaded = bytearray(data)
    while len(loaded) < total:
        loaded += device.request_tx_data(min(total - len(loaded), DATA_CHUNK_SIZE))
    return bytes(loaded)


def _calldata(
    device: Device,
    msg: messages.EthereumSignTx | messages.EthereumSignTxEIP1559,
    to: bytes,
    key: PrivateKey,
) -> bytes:
    """request_initial_data and confirm_tx_data: the first 6144 bytes, the firmware's look
    at the call (which may refuse it or ask the host for a display format), the rest."""
    total = msg.data_length or 0
    stored = min(total, contract_calls.MAX_DATA_STORED)
    initial = _load_data(device, bytes(msg.data_initial_chunk or b""), stored)
    if not contract_calls.staking_call(msg, to):
        sender = key.public_key.to_canonical_address()
        if not contract_calls.yielding_call(msg, initial, to, sender):
            contract_calls.display_format(device, msg, initial, to)
    return _load_data(device, initial, total)


def _amount(value: int, symbol: str) -> str:
    """helpers.format_ethereum_amount: ETH with trailing zeros cut, tiny values in Wei."""
    if 0 < value < 10**9:
        return f"{value} Wei {symbol}"
    text = format(Decimal(value) / WEI_PER_ETH, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {symbol}"


def _confirm(device: Device, to: bytes, value: int, fee: int, data: bytes, symbol: str) -> None:
    if data:
        # DataChunkConfirmer: TR.ethereum__title_input_data is "Data".
        lines = (f"Size: {len(data)} bytes", "0x" + data[:64].hex())
        device.confirm(Screen("Data", lines, "confirm_data", BR.SignTx))
    # confirm_ethereum_tx: the T (bolt) and Safe 3 (caesar) name both screens
    # "confirm_ethereum_tx", the Safe 5 (delizia) "confirm_output" and "confirm_total"; all
    # show the recipient, or that a contract will be deployed, under code SignTx.
    safe5 = device.model.key == "safe5"
    recipient = (layouts.address_from_bytes(to) if to else "New contract will be deployed",)
    output_name = "confirm_output" if safe5 else "confirm_ethereum_tx"
    device.confirm(Screen("Recipient", recipient, output_name, BR.SignTx))
    device.confirm(
        Screen(
            "Summary",
            (f"Amount: {_amount(value, symbol)}", f"Maximum fee: {_amount(fee, symbol)}"),
            "confirm_total" if safe5 else "confirm_ethereum_tx",
            BR.SignTx,
            kind=ScreenKind.HOLD,
            confirm_label="Hold to sign",
        )
    )


def _review(
    device: Device,
    msg: messages.EthereumSignTx | messages.EthereumSignTxEIP1559,
    network: networks.Network | None,
    to: bytes,
    fee_per_gas: bytes,
) -> tuple[PrivateKey, bytes]:
    """What both transaction types do once their fields are checked: the key (its path
    validated), the calldata, then the screens, the fee shown being ``fee_per_gas`` (the gas
    price, or the EIP-1559 max fee) times the gas limit. The key and the whole calldata."""
    key = _key(device, msg, network)
    symbol = network.symbol if network else "UNKN"
    data = _calldata(device, msg, to, key)
    fee = int.from_bytes(fee_per_gas, "big") * int.from_bytes(bytes(msg.gas_limit), "big")
    value = int.from_bytes(bytes(msg.value), "big")
    _confirm(device, to, value, fee, data, symbol)
    return key, data


def _signed(key: PrivateKey, digest: bytes) -> tuple[int, bytes, bytes]:
    signature = key.sign_msg_hash(digest)
    return signature.v, signature.r.to_bytes(32, "big"), signature.s.to_bytes(32, "big")


def sign_tx(device: Device, msg: messages.EthereumSignTx) -> messages.EthereumTxRequest:
    network = _network(msg)
    to = _check_common(msg)
    if msg.tx_type not in (1, 6, None):
        raise data_error("tx_type out of bounds")
    if len(bytes(msg.gas_price)) + len(bytes(msg.gas_limit)) > 30:
        raise data_error("Fee overflow")
    key, data = _review(device, msg, network, to, bytes(msg.gas_price))
    fields: list[object] = [] if msg.tx_type is None else [msg.tx_type]
    fields += [
        bytes(msg.nonce or b""),
        bytes(msg.gas_price),
        bytes(msg.gas_limit),
        to,
        bytes(msg.value or b""),
        data,
        msg.chain_id,
        0,
        0,
    ]
    recovery, r, s = _signed(key, bytes(keccak(rlp.encode(fields))))
    v = recovery if msg.chain_id > MAX_CHAIN_ID else recovery + 2 * msg.chain_id + 35
    return messages.EthereumTxRequest(signature_v=v, signature_r=r, signature_s=s)


def sign_tx_eip1559(
    device: Device, msg: messages.EthereumSignTxEIP1559
) -> messages.EthereumTxRequest:
    network = _network(msg)
    if len(bytes(msg.max_gas_fee)) + len(bytes(msg.gas_limit)) > 30:
        raise data_error("Fee overflow")
    if len(bytes(msg.max_priority_fee)) + len(bytes(msg.gas_limit)) > 30:
        raise data_error("Fee overflow")
    to = _check_common(msg)
    key, data = _review(device, msg, network, to, bytes(msg.max_gas_fee))
    access_list = [
        [_address_bytes(item.address), [bytes(k) for k in item.storage_keys]]
        for item in msg.access_list
    ]
    fields = [
        msg.chain_id,
        bytes(msg.nonce or b""),
        bytes(msg.max_priority_fee),
        bytes(msg.max_gas_fee),
        bytes(msg.gas_limit),
        to,
        bytes(msg.value or b""),
        data,
        access_list,
    ]
    recovery, r, s = _signed(key, bytes(keccak(b"\x02" + rlp.encode(fields))))
    return messages.EthereumTxRequest(signature_v=recovery, signature_r=r, signature_s=s)


def _address_bytes(address: str) -> bytes:
    return bytes.fromhex(address[2:] if address.startswith(("0x", "0X")) else address)
