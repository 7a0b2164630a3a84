"""Authentication, authorization and API keys."""
