"""Reusable UI pieces. No database, no services: they read state vars and call state handlers."""
