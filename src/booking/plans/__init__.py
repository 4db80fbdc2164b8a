"""plans aggregate."""
