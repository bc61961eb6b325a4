"""Transports: how bytes reach the playground (HTTP today; WebSocket and a browser page next)."""
