#!/bin/sh
# `revops query` prints chunk k of a result in the spec's chunk contract:
# success, error, chunked, chunk_index, total_chunks, total_rows,
# rows_per_chunk, columns, results, query_info.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so sqlite.so tp_sum.so
cat > "$TMP/q.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
sources = { gen = { plugin = "tp_rows"; rows = 4328; rows_per_chunk = 1000; };
            db = { plugin = "sqlite"; database = "q.db"; }; };
pipelines = { p = { analysis = "A5";
                    inputs = { rows = { source = "db"; query = "SELECT a AS id, b FROM t ORDER BY a"; row_limit = 1; }; }; }; };
C
sqlite3 "$TMP/q.db" "CREATE TABLE t (a INTEGER, b TEXT, c REAL, d DATE); INSERT INTO t VALUES (1, 'x', 1.5, '2026-01-01'), (2, NULL, NULL, '2026-01-02');"

"$REVOPS" query -c "$TMP/q.conf" -s gen -q all --chunk 0 > "$TMP/c0.json" 2> "$TMP/err"
is "$?" 0 "chunk 0: exit 0"
is "$(jget "$TMP/c0.json" "d['success'], d['error'], d['chunked'], d['chunk_index'], d['total_chunks'], d['total_rows'], d['rows_per_chunk']")" \
   "(True, None, True, 0, 5, 4328, 1000)" "chunk 0 of 4328 rows: the spec's header fields"
is "$(jget "$TMP/c0.json" "d['columns'], d['column_types']")" "(['id', 'name', 'day', 'value'], ['integer', 'text', 'date', 'double'])" "columns and their types"
is "$(jget "$TMP/c0.json" "len(d['results']), d['results'][0], d['results'][4][3]")" "(1000, [0, 'row-0', '2024-10-04', 0.0], None)" "1000 rows, typed cells, NULL as null"
is "$(jget "$TMP/c0.json" "d['query_info']['query'], d['query_info']['source']")" "('all', 'gen')" "query_info says what was asked of whom"

"$REVOPS" query -c "$TMP/q.conf" -s gen -q all --chunk 4 > "$TMP/c4.json" 2> "$TMP/err"
is "$(jget "$TMP/c4.json" "d['chunk_index'], len(d['results']), d['results'][0][0], d['results'][-1][0]")" "(4, 328, 4000, 4327)" "the last chunk holds rows 4000..4327"

"$REVOPS" query -c "$TMP/q.conf" -s gen -q all --chunk 5 > "$TMP/c5.json" 2> "$TMP/err"
is "$?" 1 "an out-of-range chunk: exit 1"
is "$(jget "$TMP/c5.json" "d['success'], d['results'], d['total_chunks']")" "(False, [], 5)" "out of range: success false, no results"
like "$TMP/c5.json" "chunk 5 is out of range: the result has 5 chunks (4328 rows, 1000 rows per chunk); valid chunk_index values are 0..4" "out of range: the message says why"

"$REVOPS" query -c "$TMP/q.conf" -s gen -q all --rows-per-chunk 2000 --chunk 2 > "$TMP/r.json" 2> "$TMP/err"
is "$(jget "$TMP/r.json" "d['total_chunks'], d['rows_per_chunk'], len(d['results'])")" "(3, 2000, 328)" "--rows-per-chunk changes the cut"

"$REVOPS" query -c "$TMP/q.conf" -s db -q "SELECT a, b, c, d FROM t ORDER BY a" > "$TMP/s.json" 2> "$TMP/err"
is "$?" 0 "a small sqlite result: exit 0"
is "$(jget "$TMP/s.json" "sorted(d.keys())")" "['chunked', 'column_types', 'columns', 'error', 'results', 'success']" "a single chunk uses the spec's small form"
is "$(jget "$TMP/s.json" "d['chunked'], d['results']")" "(False, [[1, 'x', 1.5, '2026-01-01'], [2, None, None, '2026-01-02']])" "its rows, NULLs as null"

"$REVOPS" query -c "$TMP/q.conf" -s db -q "SELECT * FROM nosuch" > "$TMP/e.json" 2> "$TMP/err"
is "$?" 1 "a failing query: exit 1"
is "$(jget "$TMP/e.json" "d['success']")" "False" "a failing query: success false"
like "$TMP/e.json" "no such table: nosuch" "a failing query: the database's reason"

"$REVOPS" query -c "$TMP/q.conf" -s nosuch -q x > "$TMP/out" 2> "$TMP/err"
is "$?" 64 "an unknown source: exit 64"
like "$TMP/err" "defines no source 'nosuch'" "an unknown source is named"

"$REVOPS" query -c "$TMP/q.conf" -p p -i rows > "$TMP/pi.json" 2> "$TMP/err"
is "$?" 0 "query -p PIPELINE -i INPUT runs that input's query"
is "$(jget "$TMP/pi.json" "d['columns'], d['results']")" "(['id', 'b'], [[1, 'x']])" "with the input's source and its row_limit"

done_testing
