"""Tests, mirroring src/."""
