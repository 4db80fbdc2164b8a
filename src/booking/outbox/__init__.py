"""outbox aggregate."""
