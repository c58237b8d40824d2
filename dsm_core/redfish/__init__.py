"""Redfish client for Dell iDRACs: sessions, throttling, retries, TLS pinning, typed views, capabilities."""
