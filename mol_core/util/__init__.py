"""Common helpers every part may use: atomic writes, geometry, frame reading, device choice."""
