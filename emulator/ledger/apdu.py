"""The Ledger Ethereum app's APDU vocabulary: status words, the refusal, BIP-32 paths.

Shared by the app's general commands (`app.py`) and its EIP-712 commands (`app_eip712.py`).
"""

from __future__ import annotations

# Status words: ledger-secure-sdk include/status_words.h (SWO_*), as the app uses them.
SW_OK = 0x9000
SW_REJECTED = 0x6985  # SWO_CONDITIONS_NOT_SATISFIED: also "rejected by the user"
SW_INVALID_DATA = 0x6A80  # SWO_INCORRECT_DATA
SW_WRONG_DATA_LENGTH = 0x6A87  # SWO_WRONG_DATA_LENGTH: main.c, when apdu_parser fails
SW_COMMAND_NOT_ALLOWED = 0x6980  # SWO_COMMAND_NOT_ALLOWED: EIP-712 with no context
SW_INVALID_P1_P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_LOCKED = 0x5515  # BOLOS: device locked (PIN screen)
SW_APP_NOT_OPEN = 0x6E01  # BOLOS dashboard: CLA of an app that is not open


class ApduError(Exception):
    def __init__(self, sw: int, reason: str) -> None:
        super().__init__(f"0x{sw:04X}: {reason}")
        self.sw = sw


def parse_bip32(data: bytes) -> tuple[list[int], bytes]:
    """(indices, rest) of "count || index_be32 ..."; at most 10 levels, as the app."""
    if not data or not 1 <= data[0] <= 10 or len(data) < 1 + 4 * data[0]:
        raise ApduError(SW_INVALID_DATA, "bad BIP-32 path")
    count = data[0]
    path = [int.from_bytes(data[1 + 4 * i : 5 + 4 * i], "big") for i in range(count)]
    return path, data[1 + 4 * count :]
