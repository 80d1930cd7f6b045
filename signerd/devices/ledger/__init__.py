"""Ledger (Nano S Plus / X, Stax, Flex) with the Ethereum app, over USB HID or Speculos TCP.

transport  the links: Speculos' APDU socket and USB HID with Ledger's framing
apdu       building APDUs, BIP-32 paths, status words -> signerd errors
eip712     typed data as the app's struct definition / implementation APDUs
signer     LedgerSigner, the Signer of this family
"""

from signerd.devices.ledger.apdu import pack_bip32
from signerd.devices.ledger.eip712 import typed_data_apdus
from signerd.devices.ledger.signer import LedgerSigner
from signerd.devices.ledger.transport import enumerate_hid, frame_hid, unframe_hid

__all__ = [
    "LedgerSigner",
    "enumerate_hid",
    "frame_hid",
    "pack_bip32",
    "typed_data_apdus",
    "unframe_hid",
]
