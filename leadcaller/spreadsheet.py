"""Text for CSV files that people open in a spreadsheet."""

from __future__ import annotations


def spreadsheet_text(value: str) -> str:
    """A cell that starts with =, +, -, @, a tab or a carriage return would be run by a spreadsheet as a
    formula (CSV injection), so such a value is written as text, with a leading apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def spreadsheet_value(cell: str) -> str:
    """A cell read back: the apostrophe spreadsheet_text() added is dropped."""
    cell = cell.strip()
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell
