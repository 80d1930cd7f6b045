"""A simulated Trezor (Safe 3 / Model T / One) speaking protocol v1 over UDP, like the emulator.

Layout:
  wire.py      protocol v1 framing (64-byte "?##" reports), message (de)serialisation, failures
  layouts.py   the screens the firmware shows, as data (title, text, buttons) and debug-link JSON
  eip712.py    the firmware's streaming EIP-712 hasher (struct and value requests)
  loop.py      the firmware's message loop: one message at a time, screens, presses, debug view
  device.py    the simulated firmware: features, sessions, keys, the message handler table
  server.py    the UDP sockets (wire link and debug link) and the threads that drive the device
  main.py      the `signerd-emulator trezor` click command
  launch.py    TrezorSimulatorProcess and TrezorEmulatorProcess (trezor-emu-core): start one as a
               child process and press its buttons
"""
