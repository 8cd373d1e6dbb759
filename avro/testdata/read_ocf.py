"""Reads Avro object container files with the Apache Avro Python library and
prints them as JSON, for avro/container_test.go.

Usage: /usr/bin/python3 read_ocf.py FILE

Prints one JSON object: {"meta": {key: value as text}, "codec": ...,
"blocks": [row count of each block], "records": [...]}. Values that JSON
cannot hold exactly are tagged objects:

  float / double            {"f": repr(x)}          e.g. "nan", "-inf", "-0.0"
  decimal.Decimal           {"dec": fixed-point}    e.g. "-0.01", "0.00"
  bytes                     {"hex": lowercase hex}
  datetime.date             {"date": days since 1970-01-01}
  datetime.time             {"time": microseconds since midnight}
  datetime.datetime         {"ts": microseconds since the epoch,
                             "utcoffset": seconds, or null when naive}
  uuid.UUID                 {"uuid": canonical text}

Integers, strings, booleans, null, lists and records (objects) are plain.
The reader is made strict: a block whose sync marker does not follow it,
or whose decompressed data has bytes left over, is an error (exit 1).
"""

import datetime
import decimal
import json
import sys
import uuid

import avro.datafile
import avro.io

EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH_NAIVE = datetime.datetime(1970, 1, 1)
EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MICRO = datetime.timedelta(microseconds=1)


def render(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return {"f": repr(v)}
    if isinstance(v, decimal.Decimal):
        return {"dec": format(v, "f")}
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, datetime.datetime):  # before date: datetime is a date
        if v.tzinfo is None:
            return {"ts": (v - EPOCH_NAIVE) // MICRO, "utcoffset": None}
        return {"ts": (v - EPOCH_UTC) // MICRO, "utcoffset": v.utcoffset().total_seconds()}
    if isinstance(v, datetime.date):
        return {"date": (v - EPOCH_DATE).days}
    if isinstance(v, datetime.time):
        return {"time": ((v.hour * 60 + v.minute) * 60 + v.second) * 1000000 + v.microsecond}
    if isinstance(v, uuid.UUID):
        return {"uuid": str(v)}
    if isinstance(v, list):
        return [render(x) for x in v]
    if isinstance(v, dict):
        return {k: render(x) for k, x in v.items()}
    raise TypeError(f"cannot render {type(v).__name__}: {v!r}")


class StrictReader(avro.datafile.DataFileReader):
    """Records the row count of every block and checks the framing."""

    def __init__(self, *args, **kwargs):
        self.blocks = []
        self._sync_seen = True
        super().__init__(*args, **kwargs)

    def _read_block_header(self):
        if self.blocks and not self._sync_seen:
            raise ValueError(f"block {len(self.blocks)}: no sync marker after it")
        super()._read_block_header()
        self.blocks.append(self.block_count)
        self._sync_seen = False

    def _skip_sync(self):
        ok = super()._skip_sync()
        self._sync_seen = self._sync_seen or ok
        return ok

    def __next__(self):
        datum = super().__next__()
        if self.block_count == 0 and self.codec != "null":
            rest = self.datum_decoder.reader.read()
            if rest:
                raise ValueError(f"block {len(self.blocks)}: {len(rest)} bytes left after its rows")
        return datum


def main(path):
    with open(path, "rb") as f:
        reader = StrictReader(f, avro.io.DatumReader())
        records = [render(r) for r in reader]
        if reader.blocks and not reader._sync_seen:
            raise ValueError("no sync marker after the last block")
        if f.tell() != reader.file_length:
            raise ValueError("trailing bytes")
        out = {
            "meta": {k: v.decode("utf-8") for k, v in reader.meta.items()},
            "codec": reader.codec,
            "blocks": reader.blocks,
            "records": records,
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
