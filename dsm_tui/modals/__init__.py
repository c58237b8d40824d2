"""Dialogs: confirmation tiers, forms, help, the view switcher."""
