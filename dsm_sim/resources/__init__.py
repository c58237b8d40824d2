"""Redfish payloads of a simulated iDRAC, shaped from a real PowerEdge R750 / iDRAC 9 6.00.30.00 capture."""
