"""Business rules: the task state machine, leases, retries and their events.
Nothing here knows about gRPC transports or SQL."""
