"""Slow, obviously-correct Python versions of every C routine, for differential tests."""
