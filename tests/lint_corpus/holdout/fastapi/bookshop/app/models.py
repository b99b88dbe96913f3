from sqlalchemy import Column, Float, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)  # trap: ORM column declarations
    isbn = Column(String(13), unique=True)
    title = Column(String(300))
    genre = Column(String(40))
    price = Column(Float)
    views = Column(Integer, default=0)
    sold = Column(Integer, default=0)
