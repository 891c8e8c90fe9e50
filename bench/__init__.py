"""Benchmarks (`make bench`, `make bench-nlu`, `make bench-knowledge`); never part of `make test`."""
