"""Generated Taskplane v1 messages and gRPC stubs. Do not edit: run scripts/gen."""
