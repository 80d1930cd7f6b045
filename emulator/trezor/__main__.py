"""`python -m emulator.trezor [options]`: the same as `signerd-emulator trezor`."""

from emulator.trezor.main import trezor_command

if __name__ == "__main__":
    trezor_command()
