"""Simulated Trezor and Ledger devices on the real wire protocols, and real-emulator launchers.

Their secrets are public (a BIP-39 test mnemonic); otherwise they behave as the real firmware
does, so signerd's code paths are the same against a simulator, an emulator or a device.
"""
