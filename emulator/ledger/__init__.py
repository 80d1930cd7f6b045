"""The simulated Ledger Ethereum app behind Speculos' APDU TCP framing and REST API.

Layout:
  app.py       the Ethereum app: settings, state, APDUs, the review pages it shows
  eip712.py    the app's EIP-712 struct definitions, implementations and filtering
  screen.py    the screen and buttons: review flows, Speculos-style screen events
  server.py    the APDU TCP server and the REST API
  main.py      the `signerd-emulator ledger` click command
  launch.py    LedgerSimulatorProcess and SpeculosProcess (the real Speculos): start one as
               a child process and walk its reviews
"""
