"""On chain: a grant as an ERC-7710 delegation of MetaMask's Delegation Framework.

Pure functions only (no node, no web3): caveat terms (`caveats`), the Delegation struct and
its EIP-712 hashing (`delegation`), grant -> delegation and the check back (`compile`), and
the calldata a redeemer sends (`execution`). The daemon never needs a chain connection to
build or check what the person signs.
"""
