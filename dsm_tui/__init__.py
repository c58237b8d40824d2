"""The DSM console (`dsm`): a keyboard-driven Textual app over dsm_core.

It never talks to an iDRAC: it reads the database in background threads and changes things only
through dsm_core.services, as the CLI does. See app.py for the shell and actions.py for the one
registry of keys, tiers and roles.
"""
