import itertools
import threading
import time

from flask import Flask, jsonify

app = Flask(__name__)
LATEST: dict[str, float] = {}
_order_ids = itertools.count(1)
_next_ticket = 0


def poll_prices() -> None:
    while True:
        LATEST["btc"] = time.time()  # expect: SL113
        time.sleep(1)


threading.Thread(target=poll_prices, daemon=True).start()


@app.route("/price")
def price():
    return jsonify(LATEST)


@app.route("/orders", methods=["POST"])
def new_order():
    order_id = next(_order_ids)  # expect: SL114
    return jsonify(id=order_id)


@app.route("/tickets", methods=["POST"])
def new_ticket():
    global _next_ticket
    _next_ticket += 1  # expect: SL114
    return jsonify(ticket=_next_ticket)
