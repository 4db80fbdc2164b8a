"""Privacy by design: retention, the read log, subject requests (see docs/privacy.md)."""
