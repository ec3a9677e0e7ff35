"""The ``llmhpo`` command line."""
