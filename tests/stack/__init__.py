"""Stack tests: the whole sidequest stack as real processes, driven over HTTP and Redis."""
