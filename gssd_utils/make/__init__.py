"""What the Makefile runs around the notebooks: the build's progress and timings, and the injected parameters cell."""
