"""The Unix-socket JSON-RPC API: framing, server, peer credentials and the agent client."""
