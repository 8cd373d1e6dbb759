#!/usr/bin/python3
"""Independent reader: consume a topic with librdkafka (confluent_kafka) and
decode Confluent-framed Avro with the legacy MessageSerializer through the
schema registry. Prints one JSON object per record, in partition/offset order.

usage: decode_topic.py BROKERS REGISTRY_URL TOPIC EXPECTED_COUNT [DRAIN_SECONDS]

With DRAIN_SECONDS, it goes on reading that long after the expected count
came, so that records beyond it (duplicates) are printed too.
"""
import json
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.avro.cached_schema_registry_client import CachedSchemaRegistryClient
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer


def main():
    brokers, registry, topic, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    drain = float(sys.argv[5]) if len(sys.argv) > 5 else 0
    ser = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))
    c = Consumer({"bootstrap.servers": brokers, "group.id": "pycheck", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "broker.address.family": "v4"})
    c.subscribe([topic])
    out, deadline = [], time.time() + 60
    while time.time() < deadline:
        if len(out) >= want:
            if drain <= 0:
                break
            deadline, drain = time.time() + drain, 0
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        key = ser.decode_message(m.key(), is_key=True) if m.key() else None
        val = ser.decode_message(m.value(), is_key=False) if m.value() else None
        out.append({"partition": m.partition(), "offset": m.offset(), "key": key, "value": val})
    c.close()
    out.sort(key=lambda r: (r["partition"], r["offset"]))
    for r in out:
        print(json.dumps(r, default=str, sort_keys=True))
    if len(out) < want:
        sys.exit("got %d records, want %d" % (len(out), want))


if __name__ == "__main__":
    main()
