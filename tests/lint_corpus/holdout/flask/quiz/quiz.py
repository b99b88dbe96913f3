"""A pub quiz server written in an afternoon."""

import random
import sqlite3
from collections import defaultdict
from functools import lru_cache

from flask import Flask, abort, jsonify, request

app = Flask(__name__)
app.config["ROUND"] = 1  # trap: module top level, import time

QUESTION_BANK = [
    {"q": "Capital of Portugal?", "a": "lisbon"},
    {"q": "Largest planet?", "a": "jupiter"},
]
_question_iter = iter(QUESTION_BANK)
CURRENT_QUESTION = None
SCORES: dict[str, int] = {}
ANSWERS: dict[str, list[str]] = {}
STREAKS = defaultdict(int)
SCORES_VERSION = 0
CONFIG = {"max_players": 50}


class Quiz:
    current = None
    asked = 0


@lru_cache(maxsize=1)  # expect: SL107
def leaderboard_rows():
    with sqlite3.connect("quiz.db") as db:
        return db.execute("SELECT name, score FROM players ORDER BY score DESC").fetchall()


def grade(answer: str, expected: str, _history=[]) -> bool:
    _history.append(answer)  # expect: SL106
    return answer.strip().lower() == expected


@app.post("/next")
def next_question():
    global CURRENT_QUESTION
    q = next(_question_iter, None)  # expect: SL103
    if q is None:
        abort(410)
    CURRENT_QUESTION = q  # expect: SL101
    Quiz.current = q  # expect: SL105
    Quiz.asked += 1  # expect: SL105
    return jsonify({"question": q["q"]})


@app.post("/answer/<player>")
def answer(player):
    global SCORES_VERSION
    if len(SCORES) >= CONFIG["max_players"] and player not in SCORES:
        abort(429)
    text = request.json["answer"]
    ANSWERS[player] = ANSWERS.get(player, []) + [text]  # expect: SL102
    if CURRENT_QUESTION and grade(text, CURRENT_QUESTION["a"]):
        SCORES[player] = SCORES.get(player, 0) + 1  # expect: SL102
        SCORES_VERSION += 1  # expect: SL101
    streak = STREAKS[player]  # expect: SL103
    return jsonify({"score": SCORES.get(player, 0), "streak": streak})


@app.delete("/players/<player>")
def kick(player):
    del ANSWERS[player]  # expect: SL102
    SCORES.pop(player, None)  # expect: SL102
    return "", 204


@app.post("/round")
def new_round():
    app.config["ROUND"] += 1  # expect: SL116
    leaderboard_rows.cache_clear()  # expect: SL108
    random.seed(app.config["ROUND"])  # expect: SL115
    return jsonify({"round": app.config["ROUND"], "order": random.sample(range(10), 10)})


@app.get("/summary")
def summary():
    global CONFIG  # trap: declared global but only read
    total = 0

    def add(points):
        nonlocal total
        total += points  # trap: the closure belongs to this request's call

    for points in SCORES.values():
        add(points)
    ANSWERS_SEEN = {}  # trap: a local that shadows nothing shared
    ANSWERS_SEEN["count"] = sum(len(v) for v in ANSWERS.values())  # trap: local dict
    return jsonify({"total": total, "limit": CONFIG["max_players"], **ANSWERS_SEEN,
                    "top": leaderboard_rows()[:3], "version": SCORES_VERSION})


def reset_everything():
    """Called from the Python shell between events; no route calls it."""
    SCORES.clear()  # trap: not reachable from any route
    STREAKS.clear()  # trap: same
