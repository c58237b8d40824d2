"""The headless worker (`dsm worker`): claims jobs, runs handlers and workflows, runs the scheduler.

The only DSM process that reaches iDRACs and vCenter (DESIGN.md section 1).
"""
