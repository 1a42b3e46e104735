"""Uploaded files: what a file is (decided from its content, `sniff.detect`) and how its name is shown."""
