from collections import Counter

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy.orm import Session

from ..catalog import ISBN_RE, bestseller_ids, normalise_isbn, price_after_discount
from ..db import get_db
from ..models import Book

router = APIRouter(tags=["books"])

_recently_viewed: list[int] = []
_views = Counter()


@router.get("/recent")
def recent():
    return {"ids": list(_recently_viewed[-10:])}


@router.get("/popular")
def popular():
    return {"ids": [book_id for book_id, _ in _views.most_common(5)]}


@router.get("/bestsellers")
def bestsellers():
    return {"ids": list(bestseller_ids())}


@router.get("/isbn/{raw}")
def by_isbn(raw: str, db: Session = Depends(get_db)):
    isbn = normalise_isbn(raw)
    if not ISBN_RE.match(isbn):
        raise HTTPException(status_code=422, detail="not an ISBN-13")
    book = db.query(Book).filter(Book.isbn == isbn).one_or_none()
    if book is None:
        raise HTTPException(status_code=404)
    return book


@router.get("/{book_id}")
def get_book(book_id: int, db: Session = Depends(get_db)):
    book = db.get(Book, book_id)
    if book is None:
        raise HTTPException(status_code=404)
    _recently_viewed.append(book_id)  # expect: SL102
    _views[book_id] += 1  # expect: SL103
    book.views += 1  # trap: an ORM row, flushed to SQL
    db.commit()
    return {"id": book.id, "title": book.title,
            "price": price_after_discount(book.price, book.genre)}
