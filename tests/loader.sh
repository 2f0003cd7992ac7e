#!/bin/sh
# The loader refuses, in one sentence naming the file and the reason, every
# plugin it must not load; `revops plugins` lists the good ones.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
TP="$top_builddir/tests/plugins/.libs"

# refused PLUGIN-FILE REASON-FRAGMENT
refused() {
    d="$TMP/$1.d"; mkdir -p "$d"; chmod 755 "$d"
    cp "$TP/$1" "$d/"; chmod 755 "$d/$1"
    [ -n "$3" ] && cp "$TP/$3" "$d/" && chmod 755 "$d/$3"
    REVOPS_PLUGIN_PATH="$d" "$REVOPS" plugins > "$TMP/out" 2> "$TMP/err"
    is "$?" 69 "$1: revops plugins exits 69"
    like "$TMP/err" "refusing plugin $d/$1: $2" "$1: $2"
    is "$(grep -c "refusing plugin $d/$1" "$TMP/err")" 1 "$1: said in one sentence, once"
}

refused tp_bad_major.so "it was built for plugin ABI 2.0 but this revops speaks ABI 1.5; rebuild it against this revops' headers."
refused tp_bad_minor.so "it was built for plugin ABI 1.6, newer than this revops' ABI 1.5; upgrade revops or rebuild the plugin."
refused tp_bad_kind.so "it declares unknown kind 9 (known: 1 source, 2 analysis, 3 action, 4 model since ABI 1.3)."
refused tp_bad_size.so "its descriptor is 16 bytes, smaller than the"
refused tp_bad_magic.so "its revops_plugin_descriptor has the wrong magic number (not a revops descriptor, or a corrupt one)."
refused tp_no_descriptor.so "it exports no revops_plugin_descriptor symbol, so it is not a revops plugin"
refused tp_no_fetch.so "its source vtable lacks 'fetch'."
# tp_dup_name.so declares the name tp_rows; sorted loading sees it first.
refused tp_rows.so "the plugin name 'tp_rows' is already taken by $TMP/tp_rows.so.d/tp_dup_name.so." tp_dup_name.so

# Not a shared object at all: dlopen's reason and a hint.
d="$TMP/junk.d"; mkdir "$d"; chmod 755 "$d"; echo "not ELF" > "$d/junk.so"; chmod 644 "$d/junk.so"
REVOPS_PLUGIN_PATH="$d" "$REVOPS" plugins > "$TMP/out" 2> "$TMP/err"
is "$?" 69 "junk.so: exit 69"
like "$TMP/err" "refusing plugin $d/junk.so: dlopen failed:" "junk.so: dlopen's reason"
like "$TMP/err" "run \`ldd $d/junk.so\`" "junk.so: with a hint"

# A plugin file writable by group or others is never dlopen()ed.
d="$TMP/perm.d"; mkdir "$d"; chmod 755 "$d"; cp "$TP/tp_rows.so" "$d/"; chmod 775 "$d/tp_rows.so"
REVOPS_PLUGIN_PATH="$d" "$REVOPS" plugins > "$TMP/out" 2> "$TMP/err"
is "$?" 69 "group-writable file: exit 69"
like "$TMP/err" "refusing plugin $d/tp_rows.so: the file is writable by group or others (mode 775); chmod go-w it." \
    "group-writable file refused"

# Nor is anything in a directory writable by others.
d="$TMP/dir.d"; mkdir "$d"; cp "$TP/tp_rows.so" "$d/"; chmod 755 "$d/tp_rows.so"; chmod 777 "$d"
REVOPS_PLUGIN_PATH="$d" "$REVOPS" plugins > "$TMP/out" 2> "$TMP/err"
is "$?" 69 "world-writable directory: exit 69"
like "$TMP/err" "refusing plugin directory $d: it is writable by group or others (mode 777)" "world-writable directory refused"
unlike "$TMP/out" "tp_rows (source)" "nothing from it was loaded"
chmod 755 "$d"

# A good plugin is listed with kind, version, ABI, file and options.
REVOPS_PLUGIN_PATH="$d" "$REVOPS" plugins > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "a good plugin directory: exit 0"
like "$TMP/out" "tp_rows (source) version 1.0.0, ABI 1.5" "kind, version and ABI listed"
like "$TMP/out" "query dialect: none (queries are one string)" "a source without a dialect says so"
like "$TMP/out" "file: $d/tp_rows.so" "file listed"
like "$TMP/out" "fail_times             integer, default 0, 0..100" "options listed with type, default and range"
like "$TMP/out" "fail (RETRY) this many times after half the rows" "options listed with help"

# The real plugins, as an operator sees them.
REVOPS_PLUGIN_PATH="$PLUGINS" "$REVOPS" plugins > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "built plugins load"
like "$TMP/out" "at_risk_accounts (analysis A1) version" "A1 analysis listed"
like "$TMP/out" "input: usage (columns sf_account_id,consumption_date,engine_hours)" "analysis inputs listed"
like "$TMP/out" "tool: sql_query" "source tools listed"
like "$TMP/out" "sqlite (source)" "sqlite listed"
like "$TMP/out" "report (action)" "report listed"
like "$TMP/out" "file (action)" "file listed"

# Plugin path precedence: config plugin_dir, then REVOPS_PLUGIN_PATH.
printf 'plugin_dir = "%s";\n' "$d" > "$TMP/pd.conf"
REVOPS_PLUGIN_PATH="$PLUGINS" "$REVOPS" plugins -c "$TMP/pd.conf" > "$TMP/out" 2>&1
like "$TMP/out" "plugin path: $d" "config plugin_dir wins over REVOPS_PLUGIN_PATH"

done_testing
