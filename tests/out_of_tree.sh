#!/bin/sh
# A third party's plugin, built out of tree against the installed headers
# (make install DESTDIR=... and pkg-config revops-plugin), loads and runs.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
CC=${CC:-cc}
(cd "$top_builddir" && $MAKE install DESTDIR="$TMP/root" > "$TMP/install.log" 2>&1)
is "$?" 0 "make install DESTDIR=... works"
pc=$(find "$TMP/root" -name revops-plugin.pc | head -1)
test -n "$pc"; ok $? "revops-plugin.pc is installed ($pc)"
hdr=$(find "$TMP/root" -path '*/include/revops/revops.h' | head -1)
test -n "$hdr"; ok $? "the contract header is installed ($hdr)"
for page in revops.1 revops.conf.5 revops-plugin.7; do
    test -n "$(find "$TMP/root" -name "$page")"; ok $? "man page $page is installed"
done
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$TMP/root" pkg-config --cflags revops-plugin)
ok $? "pkg-config --cflags revops-plugin: $cflags"

mkdir -p "$TMP/oot"; chmod 755 "$TMP/oot"
$CC -std=c11 -Wall -Wextra -Werror -fPIC -shared $cflags -o "$TMP/oot/hello.so" "$top_srcdir/tests/oot/hello_action.c" 2> "$TMP/cc.log"
is "$?" 0 "the out-of-tree plugin compiles warning-free against the installed header only"
chmod 755 "$TMP/oot/hello.so"

plugin_dir_with tp_rows.so tp_sum.so
cp "$TMP/oot/hello.so" "$TMP/plugins/"
cat > "$TMP/o.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
sources = { gen = { plugin = "tp_rows"; rows = 10; }; };
actions = { hello = { plugin = "hello"; greeting = "Hello from out of tree"; path = "hello.out"; }; };
pipelines = { p = { analysis = "A5"; inputs = { rows = { source = "gen"; query = "all"; }; }; actions = ( "hello" ); }; };
C
"$REVOPS" plugins -c "$TMP/o.conf" > "$TMP/out" 2> "$TMP/err"
like "$TMP/out" "hello (action) version 0.1.0, ABI 1.5" "revops plugins lists it"
"$REVOPS" run -c "$TMP/o.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "a pipeline delivering to it runs"
is "$(grep -c 'Hello from out of tree' "$TMP/hello.out")" 4 "it received all 4 findings"
done_testing
