"""assignments aggregate."""
