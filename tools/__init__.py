"""Repository tooling run from a checkout (never shipped in a wheel): compile, reference, checks."""
