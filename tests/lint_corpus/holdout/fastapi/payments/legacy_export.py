"""Never ported to Python 3; still in the repository."""

import csv


def export(rows, path):
    writer = csv.writer(open(path, "w"))
    for row in rows:
        writer.writerow(row)
    print "exported", len(rows)  # expect: SL001
