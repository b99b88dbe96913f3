from datetime import date

from fastapi import APIRouter, BackgroundTasks, Depends
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..db import SessionLocal, get_db
from ..models import Book

router = APIRouter(tags=["orders"])

_sales_today: list[dict] = []


def record_sale(book_id: int, qty: int) -> None:
    _sales_today.append({"book_id": book_id, "qty": qty, "day": date.today().isoformat()})  # expect: SL113


def bump_sold(book_id: int, qty: int) -> None:
    with SessionLocal() as db:
        db.query(Book).filter(Book.id == book_id).update({Book.sold: Book.sold + qty})  # trap: SQL update in a task
        db.commit()


@router.post("/", status_code=201)
def place_order(book_id: int, qty: int, tasks: BackgroundTasks, db: Session = Depends(get_db)):
    db.execute(insert(Book.__table__).values(id=book_id))  # trap: SQL write
    tasks.add_task(record_sale, book_id, qty)
    tasks.add_task(bump_sold, book_id, qty)
    return {"book_id": book_id, "qty": qty}


@router.get("/sales/today")
def sales_today():
    return {"count": sum(s["qty"] for s in _sales_today)}
