#!/usr/bin/env node
// query.mjs runs SQL in a fresh in-memory DuckDB and prints the rows of the
// last statement's result as JSON, one object per line (NDJSON), keyed by
// column name (duplicate names are deduplicated by DuckDB's rule, e.g.
// "a", "a:1").
//
// Usage:
//   node query.mjs 'SELECT ...'        SQL from the arguments (joined by spaces)
//   node query.mjs < file.sql          SQL from stdin (no arguments, or "-")
//
// Several statements separated by ';' may be given; they run in order and
// only the last one's rows are printed.
//
// It is an independent reader for fluxo's tests: it never downloads
// anything. Extension autoloading and autoinstalling are off; Parquet
// support is built into DuckDB.
//
// Value rendering (NULL is always JSON null):
//   BOOLEAN                            true / false
//   TINYINT..INTEGER, UTINYINT..UINTEGER  JSON number
//   BIGINT, UBIGINT, HUGEINT, UHUGEINT string of decimal digits ("-9223372036854775808")
//   FLOAT, DOUBLE                      JSON number; "NaN", "Infinity", "-Infinity", "-0" as strings
//   DECIMAL(p,s)                       exact decimal text ("-123.4500", "0.01")
//   VARCHAR, UUID, ENUM                string
//   BLOB                               lowercase hex of the bytes, no prefix ("" when empty)
//   DATE                               "YYYY-MM-DD", proleptic Gregorian with astronomical
//                                      year numbering (ISO 8601): "0000-12-31" is 1 BC,
//                                      "-0044-03-15" is 45 BC; "infinity" / "-infinity"
//   TIME                               "HH:MM:SS[.ffffff]", fraction without trailing zeros
//   TIMESTAMP (no time zone)           "YYYY-MM-DD HH:MM:SS[.ffffff]" (date as above)
//   TIMESTAMP WITH TIME ZONE           the same in UTC followed by "+00"
//   INTERVAL                           {"months": n, "days": n, "micros": "n"}
//   LIST, ARRAY                        JSON array (elements rendered recursively)
//   STRUCT                             JSON object; MAP: array of {"key", "value"}
//   anything else                      DuckDB's text form
//
// Errors go to stderr with exit status 1.

import {
  DuckDBInstance,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
} from '@duckdb/node-api';

function convert(value, type, converter) {
  if (value == null) {
    return null;
  }
  switch (type.typeId) {
    case DuckDBTypeId.BLOB:
      return Buffer.from(value.bytes).toString('hex');
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      if (Object.is(value, -0)) {
        return '-0';
      }
      return Number.isFinite(value) ? value : String(value);
    case DuckDBTypeId.DATE:
      if (!value.isFinite) {
        return value.days > 0 ? 'infinity' : '-infinity';
      }
      return dateString(value.days);
    case DuckDBTypeId.TIME:
      return timeString(value.micros);
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ: {
      if (!value.isFinite) {
        return value.micros > 0n ? 'infinity' : '-infinity';
      }
      let days = value.micros / MICROS_PER_DAY;
      let rem = value.micros % MICROS_PER_DAY;
      if (rem < 0n) {
        rem += MICROS_PER_DAY;
        days -= 1n;
      }
      const s = dateString(Number(days)) + ' ' + timeString(rem);
      return type.typeId === DuckDBTypeId.TIMESTAMP_TZ ? s + '+00' : s;
    }
    default:
      return JsonDuckDBValueConverter(value, type, converter);
  }
}

const MICROS_PER_DAY = 86400000000n;

function pad(n, width) {
  return String(n).padStart(width, '0');
}

// dateString formats days since 1970-01-01 in the proleptic Gregorian
// calendar with astronomical year numbering (ISO 8601): year 0 is 1 BC,
// year -0044 is 45 BC; years above 9999 have more digits.
function dateString(days) {
  // Howard Hinnant's civil_from_days.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const year = y < 0 ? '-' + pad(-y, 4) : pad(y, 4);
  return `${year}-${pad(m, 2)}-${pad(d, 2)}`;
}

// timeString formats microseconds since midnight (a BigInt) as
// HH:MM:SS with the fraction, if any, without trailing zeros.
function timeString(micros) {
  const us = micros % 1000000n;
  const secs = micros / 1000000n;
  let s = `${pad(secs / 3600n, 2)}:${pad((secs / 60n) % 60n, 2)}:${pad(secs % 60n, 2)}`;
  if (us !== 0n) {
    s += '.' + pad(us, 6).replace(/0+$/, '');
  }
  return s;
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) {
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function main() {
  const args = process.argv.slice(2);
  const sql = args.length === 0 || (args.length === 1 && args[0] === '-')
    ? await readStdin()
    : args.join(' ');
  if (sql.trim() === '') {
    throw new Error('no SQL given (pass it as arguments or on stdin)');
  }
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    threads: '2',
  });
  const conn = await instance.connect();
  try {
    const extracted = await conn.extractStatements(sql);
    if (extracted.count === 0) {
      throw new Error('no SQL statement given');
    }
    let reader;
    for (let i = 0; i < extracted.count; i++) {
      const prepared = await extracted.prepare(i);
      reader = await prepared.runAndReadAll();
    }
    const rows = reader.convertRowObjects(convert);
    const out = [];
    for (const row of rows) {
      out.push(JSON.stringify(row));
    }
    if (out.length > 0) {
      process.stdout.write(out.join('\n') + '\n');
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

main().catch((err) => {
  process.stderr.write(`duckdb query: ${err && err.message ? err.message : err}\n`);
  process.exitCode = 1;
});
