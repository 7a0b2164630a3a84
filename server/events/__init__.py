"""The event hub and subscriptions over the durable event log."""
