"""Building blocks for agents: model providers, sandboxed tools and the
prompt-injection guard applied to what tools and retrieval bring back."""
