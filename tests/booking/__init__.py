"""Tests of the domain and database layer."""
