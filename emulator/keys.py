"""Keys of the simulated devices: a public BIP-39 test mnemonic, real BIP-32 derivation.

Both simulators derive from the same mnemonic, so the same request signed by either, or by
a real emulator loaded with that mnemonic, gives byte-identical signatures.
"""

from __future__ import annotations

from bip32 import BIP32
from bip32.utils import _pubkey_to_fingerprint
from mnemonic import Mnemonic

# The BIP-39 reference test vector: public, never to hold funds.
DEFAULT_MNEMONIC = (
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
)
# Its account at m/44'/60'/0'/0/0 (signerd's default path): the simulators' master address.
MASTER_ADDRESS = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


class Keyring:
    """BIP-32 key tree of one mnemonic and passphrase (none by default)."""

    def __init__(
        self, mnemonic: str = DEFAULT_MNEMONIC, passphrase: str = "", *, check: bool = True
    ) -> None:
        words = " ".join(mnemonic.split())
        # LoadDevice(skip_checksum) loads words the checksum would refuse, as the firmware does.
        if check and not Mnemonic("english").check(words):
            raise ValueError("invalid BIP-39 mnemonic (word list or checksum)")
        self.mnemonic = words
        self._tree = BIP32.from_seed(Mnemonic.to_seed(words, passphrase))

    def private_key(self, path: str | list[int]) -> bytes:
        """32-byte secp256k1 private key at a path like "m/44'/60'/0'/0/0" or a list of indices."""
        key: bytes = self._tree.get_privkey_from_path(path)
        return key

    def extended_public(self, path: str | list[int]) -> tuple[bytes, bytes]:
        """(chain code, 33-byte compressed public key) at the path."""
        chaincode, pubkey = self._tree.get_extended_pubkey_from_path(path)
        return chaincode, pubkey

    def fingerprint(self, path: str | list[int]) -> bytes:
        """4-byte BIP-32 fingerprint (hash160 prefix) of the public key at the path."""
        return bytes(_pubkey_to_fingerprint(self.extended_public(path)[1]))
