"""Workflows: jobs that run as named steps, each recorded in workflow_executions (DESIGN.md §2)."""
