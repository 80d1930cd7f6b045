"""The simulated Ledger Ethereum app behind Speculos' APDU TCP framing and REST API.

Layout:
  app.py       the Ethereum app: settings, state, APDUs, the review pages it shows
  apdu.py      the app's status words, APDU refusal and BIP-32 path parsing
  app_eip712.py  the app's EIP-712 commands (definitions, values, filtering, sign) and review
  eip712.py    the streamed EIP-712 session: struct implementations hashed as they arrive
  eip712_defs.py    EIP-712 struct/field definitions and their type hashes
  eip712_values.py  EIP-712 value encoding and the text shown for each value
  screen.py    the screen and buttons: review flows, Speculos-style screen events
  server.py    the APDU TCP server and the REST API
  main.py      the `signerd-emulator ledger` click command
  launch.py    LedgerSimulatorProcess: start the simulator as a child process
  speculos_launch.py  SpeculosProcess: start the real Speculos as a child process
  speculos_api.py     Speculos' REST API and the review walker both launchers share
"""
