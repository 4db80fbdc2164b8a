"""providers aggregate."""
