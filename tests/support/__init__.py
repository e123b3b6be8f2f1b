"""Helpers shared by the tests: fakes, payloads, checks, the test server. No tests and no fixtures here."""
