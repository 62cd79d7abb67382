"""Benchmarks of the generated code against a raw loop, ignite and Lightning; see run.py."""
