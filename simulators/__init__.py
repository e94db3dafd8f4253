"""Simulated sensor fleets, faults and replays for tests, demos and benchmarks (issue #7)."""
