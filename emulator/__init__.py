"""Simulated Trezor and Ledger devices speaking the real wire protocols, plus launchers for real emulators.

Their secrets are public (a BIP-39 test mnemonic); otherwise they behave as the real firmware
does, so signerd's code paths are the same against a simulator, an emulator or a device.
"""
