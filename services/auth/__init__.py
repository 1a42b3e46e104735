"""Accounts, sessions, roles, password reset and OAuth sign-in."""
