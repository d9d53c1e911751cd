"""The scenario file: its pydantic models per section, file loading with ``extends``, and
the generated reference."""
