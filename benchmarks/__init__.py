"""Benchmarks that print numbers; timing is measured here, never asserted in tests."""
