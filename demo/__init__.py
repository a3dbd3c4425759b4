"""The demo that `make run` starts: local simulators for the providers that have no credentials."""
