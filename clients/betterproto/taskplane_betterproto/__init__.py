"""Generated betterproto2 client for Taskplane. Do not edit: run scripts/gen."""
