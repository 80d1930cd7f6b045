"""APDUs of the Ledger Ethereum app: building them, BIP-32 paths, and status words to errors.

The commands are those of LedgerHQ/app-ethereum doc/ethapp.adoc (CLA 0xE0), cross-checked
with the app's own Python client (client/src/ledger_app_clients/ethereum/command_builder.py).
That client pulls in ragger, speculos and web3, too much for a daemon.
"""

from __future__ import annotations

from signerd.addresses import to_checksum_address
from signerd.errors import DeviceError, DeviceLocked, UserRejected, ValidationError

CLA = 0xE0
INS_GET_PUBLIC_ADDRESS = 0x02
INS_GET_APP_CONFIGURATION = 0x06
INS_SIGN_PERSONAL_MESSAGE = 0x08
INS_SIGN_EIP712 = 0x0C
INS_EIP712_STRUCT_DEF = 0x1A
INS_EIP712_STRUCT_IMPL = 0x1C

SW_OK = 0x9000
SW_REJECTED = 0x6985
SW_INVALID_DATA = 0x6A80
SW_LOCKED = (0x5515, 0x6982)
SW_APP_NOT_OPEN = (0x6E00, 0x6E01, 0x6D00, 0x6511, 0x6D02)
APP_FLAG_DATA_ALLOWED = 0x01


def apdu(ins: int, p1: int, p2: int, data: bytes = b"") -> bytes:
    if len(data) > 255:
        raise ValidationError("typed_data", "a value or name is too long for one APDU")
    return bytes([CLA, ins, p1, p2, len(data)]) + data


def parse_bip32_path(path: str) -> list[int]:
    parts = path.split("/")
    if not parts or parts[0] != "m" or len(parts) < 2 or len(parts) > 11:
        raise ValidationError("path", f"not a BIP-32 path of 1 to 10 levels: {path!r}")
    out = []
    for part in parts[1:]:
        hardened = part.endswith(("'", "h", "H"))
        digits = part[:-1] if hardened else part
        if not digits.isdigit() or int(digits) >= 0x80000000:
            raise ValidationError("path", f"bad BIP-32 level {part!r}")
        out.append(int(digits) | (0x80000000 if hardened else 0))
    return out


def pack_bip32(path: str) -> bytes:
    indices = parse_bip32_path(path)
    return bytes([len(indices)]) + b"".join(i.to_bytes(4, "big") for i in indices)


def personal_message_apdus(message: bytes, path: str) -> list[bytes]:
    """SIGN ETH PERSONAL MESSAGE: path, 4-byte length and message, in 255-byte chunks."""
    payload = pack_bip32(path) + len(message).to_bytes(4, "big") + message
    chunks = [payload[i : i + 255] for i in range(0, len(payload), 255)]
    return [
        apdu(INS_SIGN_PERSONAL_MESSAGE, 0x00 if n == 0 else 0x80, 0x00, chunk)
        for n, chunk in enumerate(chunks)
    ]


def parse_app_configuration(data: bytes) -> tuple[bool, str]:
    """(blind signing allowed, app version) from GET APP CONFIGURATION's reply."""
    if len(data) < 4:
        raise DeviceError("short GET APP CONFIGURATION reply")
    return bool(data[0] & APP_FLAG_DATA_ALLOWED), f"{data[1]}.{data[2]}.{data[3]}"


def parse_address(data: bytes) -> str:
    """The checksummed address in GET ETH PUBLIC ADDRESS's reply (after the public key)."""
    try:
        key_len = data[0]
        addr_len = data[1 + key_len]
        address = data[2 + key_len : 2 + key_len + addr_len].decode("ascii")
    except (IndexError, UnicodeDecodeError):
        raise DeviceError("malformed GET ETH PUBLIC ADDRESS reply") from None
    return str(to_checksum_address("0x" + address.removeprefix("0x")))


def status_error(sw: int, what: str = "") -> DeviceError:
    """The signerd error for a status word other than 0x9000."""
    about = f": {what}" if what else ""
    if sw in SW_LOCKED:
        return DeviceLocked(f"the Ledger is locked: unlock it with its PIN (0x{sw:04X})")
    if sw in SW_APP_NOT_OPEN:
        return DeviceLocked(
            f"open the Ethereum app on the Ledger (it answered 0x{sw:04X}: app not open)"
        )
    if sw == SW_REJECTED:
        return UserRejected(f"rejected on the Ledger{about}")
    if sw == SW_INVALID_DATA:
        return DeviceError(f"the Ethereum app refused the data (0x6A80){about}")
    return DeviceError(f"the Ethereum app answered status 0x{sw:04X}{about}")
