#!/usr/bin/env python3
"""Writes instrument-adapters/tests/data/7500-v2-results.xls: a 7500 Software v2.x workbook
(BIFF8, as the 7500 writes it) with the Results sheet laid out as FORMATS.md §3.1 describes it —
key-value rows, the table header on row 8, wells A1, the Ct column titled with a Cyrillic т.
No real 7500 results workbook is public; this one is built to that description.
Needs `pip install xlwt`."""
import os
import xlwt

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "instrument-adapters", "tests", "data", "7500-v2-results.xls")

meta = [
    ("Block Type", "96fast"),
    ("Chemistry", "TAQMAN"),
    ("Experiment File Name", r"D:\runs\2022-11-24 night.eds"),
    ("Experiment Run End Time", "2022-11-24 03:12:45 AM CST"),
    ("Instrument Type", "sds7500fast"),
    ("Passive Reference", "ROX"),
]
header = ["Well", "Sample Name", "Target Name", "Task", "Reporter", "Quencher",
          "C\u0442", "C\u0442 Mean", "C\u0442 SD", "Quantity"]
rows = [
    ("A1", "HD0000001", "ORF1ab", "UNKNOWN", "FAM", "NFQ-MGB", "Undetermined"),
    ("A1", "HD0000001", "N", "UNKNOWN", "VIC", "NFQ-MGB", "Undetermined"),
    ("A1", "HD0000001", "IC", "UNKNOWN", "CY5", "NFQ-MGB", 27.815),
    ("A2", "HD0000002", "ORF1ab", "UNKNOWN", "FAM", "NFQ-MGB", 24.113),
    ("A2", "HD0000002", "N", "UNKNOWN", "VIC", "NFQ-MGB", 25.402),
    ("A2", "HD0000002", "IC", "UNKNOWN", "CY5", "NFQ-MGB", 28.05),
    ("H11", "NTC", "ORF1ab", "NTC", "FAM", "NFQ-MGB", "Undetermined"),
    ("H12", "PC", "ORF1ab", "STANDARD", "FAM", "NFQ-MGB", 28.9),
]

book = xlwt.Workbook(encoding="utf-16")
sheet = book.add_sheet("Results")
for r, (k, v) in enumerate(meta):
    sheet.write(r, 0, k)
    sheet.write(r, 1, v)
for c, h in enumerate(header):
    sheet.write(7, c, h)
for r, row in enumerate(rows):
    for c, v in enumerate(row):
        sheet.write(8 + r, c, v)
book.save(OUT)
print(OUT)
