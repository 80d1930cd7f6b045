"""The contract calls the simulated Trezor inspects before it shows a transaction.

trezor-firmware core/src/apps/ethereum/sign_tx.py `confirm_tx_data` at core/v2.12.4 looks at
the calldata in this order: staking (staking.py: Everstake's pool and accounting contracts),
ERC-4626 vaults and Merkl reward claims (yielding.py, yielding_vaults.py), then a display
format for clear signing (clear_signing.py `try_confirm`: built in, sent with the request as
a signed definition, or asked of the host in an `EthereumDefinitionRequest`). Each step can
refuse the transaction with the firmware's DataError; that, and the display-format request
the firmware sends the host on the way, is what this module reproduces.

Not reproduced: the screens of those flows (staking, vault, claim, clear signing); a call
the firmware would show on them gets the generic transaction screens here, so its
signature is the same and its screen count differs. A display format is not parsed
against the calldata (a failure there only means blind signing, which the simulator does
anyway), and the token lookups of its field formatters are not made (TokenAmountFormatter
asks the host for a token it does not know when the request allows it; that includes the
built-in ERC-20 transfer/approve formats, and needs the firmware's token list), nor the
token requests of a Merkl claim's screens (yielding_vaults.py get_token_label).
"""

from __future__ import annotations

from typing import Protocol, TypeAlias

from trezorlib import messages

from emulator.trezor import networks
from emulator.trezor.definitions import decode_definition
from emulator.trezor.wire import data_error

WORD = 32
FUNC_SIG_BYTES = 4
# sign_tx.py _MAX_DATA_STORED: the calldata loaded before any of these checks.
MAX_DATA_STORED = 6144

FUNC_SIG_STAKE = bytes.fromhex("3a29dbae")
FUNC_SIG_UNSTAKE = bytes.fromhex("76ec871c")
FUNC_SIG_CLAIM = bytes.fromhex("33986ffa")
ADDRESSES_POOL = (
    bytes.fromhex("AFA848357154a6a624686b348303EF9a13F63264"),  # Hoodi testnet
    bytes.fromhex("D523794C879D9eC028960a231F866758e405bE34"),  # mainnet
)
ADDRESSES_ACCOUNTING = (
    bytes.fromhex("624087DD1904ab122A32878Ce9e933C7071F53B9"),  # Hoodi testnet
    bytes.fromhex("7a7f0b3c23C23a31cFcb0c44709be70d4D545c6e"),  # mainnet
)

FUNC_SIG_DEPOSIT = bytes.fromhex("6e553f65")  # deposit(uint256 assets, address receiver)
FUNC_SIG_WITHDRAW = bytes.fromhex("b460af94")  # withdraw(uint256, address, address owner)
FUNC_SIG_REDEEM = bytes.fromhex("ba087652")  # redeem(uint256 shares, address, address owner)
FUNC_SIG_MERKL_CLAIM = bytes.fromhex("71ee95c0")  # claim(address[], address[], uint256[], ...)
MERKL_DISTRIBUTOR = bytes.fromhex("3ef3d8ba38ebe18db133cec108f4d14ce00dd9ae")
# yielding_vaults.py KNOWN_VAULTS (all on Ethereum mainnet): Steakhouse test USDC, USDC,
# USDT and ETH vaults.
KNOWN_VAULTS = tuple(
    (1, bytes.fromhex(address))
    for address in (
        "a511d618cd0f9d7cad791009d7c5e3b19c9568da",
        "de6c23e561f3e55846207ec45a91b777e0f7c889",
        "e4db1c5a1b709ce4d2ada6985d9d506e58f73829",
        "704cfb08969048a8dff298b214f959791d8da509",
    )
)
# clear_signing_definitions.py APPROVE/TRANSFER_DISPLAY_FORMAT: bound to no contract, so
# they match these selectors on any contract before a definition is looked at.
BUILTIN_ANY_CONTRACT = (bytes.fromhex("095ea7b3"), bytes.fromhex("a9059cbb"))
_ONEINCH = bytes.fromhex("111111125421ca6dc452d289314280a0f8842a65")
_ONEINCH_CHAINS = (1, 10, 56, 100, 137, 146, 250, 8217, 8453, 42161, 43114, 59144, 1313161554)
_WETH = tuple(
    (chain, bytes.fromhex(address))
    for chain, address in (
        (1, "c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
        (10, "4200000000000000000000000000000000000006"),
        (42161, "82af49447d8a07e3bd95bd0d56f35241523fbab1"),
        (8453, "4200000000000000000000000000000000000006"),
        (11155111, "7b79995e5f793a07bc00c21412e50ecae098e7f9"),
        (17000, "94373a4919b3240d86ea41593d5eba789fef3848"),
    )
)
# The other built-in display formats (1inch Aggregation Router V6, Uniswap V3 Router02, WETH
# (sc_constants.py weth_deployments), and the debug build's test contract 0xdd…dd): selector
# → the (chain id, contract) pairs their BindingContext matches. A call they cover is never
# looked up in a definition or asked of the host.
BUILTIN_BOUND: dict[bytes, tuple[tuple[int, bytes], ...]] = {
    **{
        bytes.fromhex(sig): tuple((chain, _ONEINCH) for chain in _ONEINCH_CHAINS)
        for sig in [
            "07ed2379",
            "83800a8e",
            "e2c95c82",
            "8770ba91",
            "19367472",
            "ea76dddf",
            "f7a70056",
            "a76dfc3b",
            "89af926a",
            "188ac35d",
            "175accdc",
            "0f449d71",
            "493189f0",
        ]
    },
    **{
        bytes.fromhex(sig): ((1, bytes.fromhex("68b3465833fb72a70ecdf485e0e4c7bd8665fc45")),)
        for sig in ("b858183f", "04e45aaf", "09b81346", "5023b4df")
    },
    bytes.fromhex("d0e30db0"): _WETH,  # deposit()
    bytes.fromhex("2e1a7d4d"): _WETH,  # withdraw(uint256)
    **{
        bytes.fromhex(sig): ((1, b"\xdd" * 20),)
        for sig in ("7e577e01", "7e577e02", "7e577e03", "7e577e04")
    },
}


class InvalidCall(Exception):
    """clear_signing.py InvalidFunctionCall: calldata that is no valid ABI encoding."""


class Host(Protocol):
    def request_definitions(
        self, chain_id: int, address: bytes, func_sig: bytes | None
    ) -> messages.EthereumDefinitions | None: ...


Msg: TypeAlias = messages.EthereumSignTx | messages.EthereumSignTxEIP1559


def _word(data: bytes, offset: int) -> bytes:
    if offset + WORD > len(data):
        raise InvalidCall("out of bounds")
    return data[offset : offset + WORD]


def _uint(data: bytes, offset: int) -> int:
    return int.from_bytes(_word(data, offset), "big")


def _address(data: bytes, offset: int) -> bytes:
    """parse_address: the padding above the 20 bytes must be zero (DirtyAddress)."""
    word = _word(data, offset)
    if any(word[:12]):
        raise InvalidCall("dirty address")
    return word[12:]


def _array(data: bytes, offset: int, element: str) -> list[bytes | int]:
    """Array(Atomic(...)).parse at the top level: head → offset of (length, elements)."""
    pos = _uint(data, offset)
    length = _uint(data, pos)
    start = pos + WORD
    if start + length * WORD > len(data):
        raise InvalidCall("out of bounds")
    parse = _address if element == "address" else _uint
    return [parse(data, start + i * WORD) for i in range(length)]


def staking_call(msg: Msg, to: bytes) -> bool:
    """staking.get_approver: True for a (well-formed) stake/unstake/claim call."""
    chunk = bytes(msg.data_initial_chunk or b"")
    if (msg.data_length or 0) > len(chunk) or len(chunk) < FUNC_SIG_BYTES:
        return False
    func_sig, args = chunk[:FUNC_SIG_BYTES], len(chunk) - FUNC_SIG_BYTES
    if to in ADDRESSES_POOL and func_sig in (FUNC_SIG_STAKE, FUNC_SIG_UNSTAKE):
        # stake(uint64 source); unstake(uint256 value, uint16 interchange, uint64 source)
        expected = WORD if func_sig == FUNC_SIG_STAKE else 3 * WORD
    elif to in ADDRESSES_ACCOUNTING and func_sig == FUNC_SIG_CLAIM:
        expected = 0
    else:
        return False
    if args != expected:
        raise data_error("Invalid staking transaction call")
    return True


def _vault_call(msg: Msg, calldata: bytes, owner_too: bool, sender: bytes, to: bytes) -> bool:
    """yielding._prepare_vault_tx and _is_vault_tx_safe."""
    try:
        amount = _uint(calldata, 0)
        receiver = _address(calldata, WORD)
        owner = _address(calldata, 2 * WORD) if owner_too else None
    except InvalidCall:
        raise data_error("Invalid data for ERC-4626 vault transaction.") from None
    if int.from_bytes(bytes(msg.value or b""), "big") != 0 or amount == 0:
        raise data_error("Invalid data for ERC-4626 vault transaction.")
    if receiver == sender and owner in (None, sender):
        return True
    if (msg.chain_id, to) in KNOWN_VAULTS:
        raise data_error("Vault tx: Signer receiver mismatch")
    return False


def _merkl_claim(msg: Msg, calldata: bytes, sender: bytes) -> bool:
    """yielding._prepare_merkl_claim."""
    if int.from_bytes(bytes(msg.value or b""), "big") != 0:
        raise data_error("Non-zero ETH transfer with claim rewards transaction not allowed")
    try:
        users = _array(calldata, 0, "address")
        tokens = _array(calldata, WORD, "address")
        amounts = _array(calldata, 2 * WORD, "uint")
        proofs = _uint(calldata, 3 * WORD)
        if proofs + WORD > len(calldata):
            raise InvalidCall("out of bounds")
        proofs_length = _uint(calldata, proofs)
        if not len(users) == len(tokens) == len(amounts) == proofs_length or not users:
            raise InvalidCall("lengths")
    except InvalidCall:
        raise data_error("Invalid data for claim rewards transaction") from None
    # Several receivers, or a receiver other than the signer: blind signing.
    return all(user == sender for user in users)


def yielding_call(msg: Msg, initial: bytes, to: bytes, sender: bytes) -> bool:
    """yielding.get_approver: True for a vault or claim call shown on its own screens."""
    if (msg.data_length or 0) > len(initial) or len(initial) < FUNC_SIG_BYTES:
        return False
    func_sig, calldata = initial[:FUNC_SIG_BYTES], initial[FUNC_SIG_BYTES:]
    if func_sig == FUNC_SIG_DEPOSIT:
        return _vault_call(msg, calldata, False, sender, to)
    if func_sig in (FUNC_SIG_WITHDRAW, FUNC_SIG_REDEEM):
        return _vault_call(msg, calldata, True, sender, to)
    if func_sig == FUNC_SIG_MERKL_CLAIM and to == MERKL_DISTRIBUTOR:
        return _merkl_claim(msg, calldata, sender)
    return False


def _matches(
    info: messages.EthereumDisplayFormatInfo, func_sig: bytes, msg: Msg, to: bytes
) -> bool:
    """DisplayFormat.matches_call for a definition: its selector, chain and contract."""
    return (
        bytes(info.func_sig) == func_sig
        and info.chain_id == msg.chain_id
        and bytes(info.address) == to
    )


def _requested_format(
    host: Host, msg: Msg, to: bytes, func_sig: bytes
) -> messages.EthereumDisplayFormatInfo | None:
    """clear_signing.request_definitions: network and token checked, then the format."""
    definitions = host.request_definitions(msg.chain_id, to, func_sig)
    if definitions is None:
        return None
    network = networks.resolve(definitions.encoded_network, chain_id=msg.chain_id)
    if network is not None and definitions.encoded_token is not None:
        decode_definition(bytes(definitions.encoded_token), messages.EthereumTokenInfo)
    if definitions.encoded_display_format is None:
        return None
    return decode_definition(
        bytes(definitions.encoded_display_format), messages.EthereumDisplayFormatInfo
    )


def display_format(
    host: Host, msg: Msg, initial: bytes, to: bytes
) -> messages.EthereumDisplayFormatInfo | bytes | None:
    """clear_signing._find_display_format: the format the firmware would clear-sign with
    (the selector for a built-in one), or None; a broken definition is refused."""
    if len(initial) < (msg.data_length or 0) or not to or len(initial) < FUNC_SIG_BYTES:
        return None
    func_sig = initial[:FUNC_SIG_BYTES]
    if func_sig in BUILTIN_ANY_CONTRACT or (msg.chain_id, to) in BUILTIN_BOUND.get(func_sig, ()):
        return func_sig
    encoded = msg.definitions.encoded_display_format if msg.definitions else None
    if encoded:
        info = decode_definition(bytes(encoded), messages.EthereumDisplayFormatInfo)
        if _matches(info, func_sig, msg, to):
            return info
    if msg.supports_definition_request:
        requested = _requested_format(host, msg, to, func_sig)
        if requested is not None and _matches(requested, func_sig, msg, to):
            return requested
    return None
