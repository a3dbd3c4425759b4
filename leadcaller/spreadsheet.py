"""CSV files that people open in a spreadsheet."""

from __future__ import annotations


def spreadsheet_text(value: str) -> str:
    """A leading =, +, - or @ would make a spreadsheet run the cell as a formula (names come from
    Bitrix24 and the admin, reasons from anyone with access): such a value is written as text."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def spreadsheet_value(cell: str) -> str:
    """A cell read back: the quote spreadsheet_text() added is dropped."""
    cell = cell.strip()
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell
