"""Application services: each command runs the business rules of
server.core against the store in one transaction and wakes the event hub."""
