"""What the daemon and the CLI import before their first request: never the slow libraries.

eth-utils (with pydantic), eth-abi, eth-keys, eth-account, pycryptodome (with cffi's C
parser) and web3 took more than half of start-up (`make bench`, "start-up to socket ready");
each is imported where it is first needed (a held key, a delegation, a Ledger signature).
Checked in a fresh interpreter, so what another test imported does not count.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

DEFERRED = ("eth_utils", "eth_abi", "eth_keys", "eth_account", "Crypto", "pydantic", "web3")


def assert_imports_none(code: str, what: str) -> None:
    """Run ``code`` in a fresh interpreter, then check it imported none of DEFERRED."""
    check = (
        "import sys\n"
        f"{code}"
        f"loaded = [name for name in {DEFERRED!r} if name in sys.modules]\n"
        f"assert not loaded, f'imported {what}: {{loaded}}'\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)


@pytest.mark.parametrize("module", ["signerd.daemon", "signerd.cli", "signerd.api"])
def test_starting_up_imports_none_of_the_slow_libraries(module: str) -> None:
    assert_imports_none(f"import {module}\n", "at start-up")


def test_making_a_session_key_imports_none_of_them() -> None:
    # A grant's new session key is made on the event loop: a first import there would stall
    # every client for as long.
    code = (
        "from signerd.flows.grant import new_session_key\n"
        "secret, address = new_session_key()\n"
        "assert len(secret) == 32 and address.startswith('0x') and len(address) == 42\n"
    )
    assert_imports_none(code, "to make a key")


def test_an_address_in_any_form_imports_none_of_them() -> None:
    # ERC-7715 requests may name addresses without 0x (or with 0X), as eth-utils allows;
    # checking them runs on the event loop.
    code = (
        "from signerd.addresses import to_checksum_address\n"
        "digits = '9858effd232b4033e47d90003d41ec34ecaeda94'\n"
        "for form in (digits, '0X' + digits.upper(), '0x' + digits, bytes.fromhex(digits)):\n"
        "    assert to_checksum_address(form) == '0x9858EfFD232B4033E47d90003D41EC34EcaEda94'\n"
    )
    assert_imports_none(code, "to checksum an address")
