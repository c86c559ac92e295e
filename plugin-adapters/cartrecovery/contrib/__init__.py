"""Integrations with shop frameworks whose views the shop does not own."""
