#!/bin/sh
. "$top_srcdir/tests/tap.sh"
echo "1..0 # SKIP being written"
