from fastapi import FastAPI

app = FastAPI()
SEEN = []


@app.get("/")
def root():
    SEEN.append(1)  # expect: SL102
    return {"n": len(SEEN)}
