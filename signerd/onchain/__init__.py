"""On chain: a grant as an ERC-7710 delegation of MetaMask's Delegation Framework.

Pure functions (no node): caveat terms (`caveats`), the Delegation struct and its EIP-712
hashing (`delegation`), grant -> delegation and the check back (`compile`), the calldata a
redeemer sends (`execution`), user operations (`userop`), the person's account (`account`),
ERC-7715 requests (`erc7715`) and the `[[chains]]` config (`chains`): the daemon never needs
a chain connection to build or check what the person signs. Only `rpc` talks to a node
(web3, the `onchain` extra), for what must happen on chain: revocation, deployment, top-ups.
"""
