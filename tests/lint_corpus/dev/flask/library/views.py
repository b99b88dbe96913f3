from flask import Flask, jsonify, request

import store

app = Flask(__name__)


@app.post("/books/<isbn>")
def put_book(isbn):
    store.save(store.BOOKS, isbn, request.json)
    return jsonify(ok=True)


@app.post("/books/<isbn>/title")
def set_title(isbn):
    store.add_book(isbn, request.json["title"])
    return jsonify(ok=True)
