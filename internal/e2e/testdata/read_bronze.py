#!/usr/bin/python3
"""Independent reader of bronze Avro part files: decodes them with Debian's
python3-avro and prints one JSON object per record, in file order.

Logical types are stripped from the schema the file is decoded with (the
binary layout is the same), so that values outside Python's datetime range
(year 294247, BC dates, 24:00:00) come through as the raw numbers; the Go
test applies the logical types itself.
Values are tagged so that nothing is lost in JSON: ints as {"i": "123"},
floats as {"f": "<IEEE double bits, hex>"}, bytes as {"b": "<hex>"}.

usage: read_bronze.py FILE...
"""
import json
import struct
import sys

import avro.schema
from avro.datafile import DataFileReader
from avro.io import DatumReader


def strip_logical(node):
    if isinstance(node, dict):
        return {k: strip_logical(v) for k, v in node.items() if k not in ("logicalType", "precision", "scale")}
    if isinstance(node, list):
        return [strip_logical(v) for v in node]
    return node


def tag(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, float):
        return {"f": struct.pack(">d", v).hex()}
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, list):
        return [tag(x) for x in v]
    if isinstance(v, dict):
        return {k: tag(x) for k, x in v.items()}
    raise TypeError("unexpected %r" % type(v))


def main():
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            reader = DataFileReader(f, DatumReader())
            codec = reader.meta.get("avro.codec", b"null").decode()
            # The same binary layout without the logical types: python's
            # conversions cannot hold every value (year 294247, 24:00:00).
            plain = avro.schema.parse(json.dumps(strip_logical(json.loads(reader.meta["avro.schema"].decode()))))
            reader.datum_reader.writers_schema = plain
            reader.datum_reader.readers_schema = plain
            for rec in reader:
                print(json.dumps({"file": path, "codec": codec, "value": tag(rec)}, sort_keys=True))


if __name__ == "__main__":
    main()
