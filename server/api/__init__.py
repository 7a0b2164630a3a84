"""gRPC servicers: thin adapters between v1 messages and the engine."""
