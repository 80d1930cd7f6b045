"""``signerd mcp``: a stdio MCP server for LLM agents, itself a client of the daemon's socket.

``bridge`` turns tool calls into socket calls and refusals into MCP tool errors carrying
signerd's code; ``models`` are the tools' typed inputs and outputs; ``server`` the tools.
Needs the ``mcp`` package (``pip install signerd[mcp]``); the daemon never imports this.
"""
