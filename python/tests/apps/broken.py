"""A module that fails to import."""

value = 1 / 0
