def handler(request:  # expect: SL001
    return 1
