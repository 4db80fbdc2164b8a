"""languages aggregate."""
