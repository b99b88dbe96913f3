CURRENT_TENANT = "public"
FEATURES = {"beta": False}
ACTIVE = FEATURES  # trap: an alias at import, nothing written
