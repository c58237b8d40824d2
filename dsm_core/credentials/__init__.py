"""Credential sealing (public-key encryption) and the resolution order for iDRAC logins."""
