"""Benchmarks: the client against the transport's limit, the frameworks' floors and g4f.

``make bench`` (``python -m benchmarks``) runs them all; see ``benchmarks/README.md``.
"""
