"""Reflex states: thin. Each handler finds out who is asking on the server, calls a service, copies plain data."""
