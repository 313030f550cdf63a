"""The imperative shell: gather rows, let `routing` decide, apply. Services never commit."""
