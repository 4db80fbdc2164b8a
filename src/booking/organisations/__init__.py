"""organisations aggregate."""
