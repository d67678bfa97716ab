"""Outbound webhooks: endpoints, messages, deliveries and attempts; signing; safe transport."""
