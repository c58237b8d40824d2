"""The Textual operator console (`dsm`): screens and widgets only; reads and writes through dsm_core."""
