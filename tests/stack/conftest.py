"""The `stack` fixture of tests/stack and tests/compose is defined in tests/conftest.py,
so both layers share one stack per session; tests/stack/stack.py says which stack."""
