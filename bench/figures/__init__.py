"""The measurements, one module per kind of run; all systems go through the same code."""
