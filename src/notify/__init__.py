"""Notifications: the outbox worker, channels (SMTP, SMS gateways, files), templates, .ics."""
