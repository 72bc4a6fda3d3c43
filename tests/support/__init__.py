"""Helpers shared by the test layers: real servers started on free ports."""
