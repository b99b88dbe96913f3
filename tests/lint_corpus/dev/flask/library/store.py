BOOKS: dict[str, dict] = {}


def save(table: dict, key: str, value: dict) -> None:
    table[key] = value  # expect: SL104


def add_book(isbn: str, title: str) -> None:
    BOOKS[isbn] = {"title": title}  # expect: SL102
