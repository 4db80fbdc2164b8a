"""users aggregate."""
