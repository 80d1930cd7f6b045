"""One flow per capability: request -> checks -> device -> self-check -> store."""
