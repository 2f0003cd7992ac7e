#!/bin/sh
# `make install` puts the binary, the plugins, the example configuration and
# the three systemd units (revops.service, revops-run@.service and .timer)
# where configure said, with the configured paths in them; systemd accepts
# the units, and revops.service is hardened (systemd-analyze security).
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
root="$TMP/root"
: "${MAKE:=make}"
# A make of our own: not the -w, -j or jobserver of the `make check` we run in.
submake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $MAKE -s --no-print-directory -C "$top_builddir" "$@"; }

# The configured directories, as make expands them.
var() {
    printf 'print:\n\t@echo $(%s)\n' "$1" | submake -f Makefile -f - print
}
bindir=$(var bindir); sysconfdir=$(var sysconfdir); pkglibdir=$(var pkglibdir)
docdir=$(var docdir); unitdir=$(var systemdsystemunitdir)
echo "# bindir=$bindir sysconfdir=$sysconfdir unitdir=$unitdir"

submake install DESTDIR="$root" > "$TMP/install.log" 2>&1
is "$?" 0 "make install DESTDIR=... succeeds"
ok "$([ -x "$root$bindir/revops" ]; echo $?)" "the binary is in bindir"
"$root$bindir/revops" --version > "$TMP/version" 2>&1
like "$TMP/version" "revops " "... and runs"
ok "$([ -f "$root$pkglibdir/sqlite.so" ] && [ -f "$root$pkglibdir/file.so" ]; echo $?)" "the plugins are in pkglibdir"
ok "$([ -f "$root$docdir/production.conf.example" ]; echo $?)" "the production example is in docdir"
if [ "$unitdir" = no ]; then
    echo "# configured --without-systemdsystemunitdir: no units"
    done_testing
    exit $?
fi
svc="$root$unitdir/revops.service"
run="$root$unitdir/revops-run@.service"
timer="$root$unitdir/revops-run@.timer"
ok "$([ -f "$svc" ] && [ -f "$run" ] && [ -f "$timer" ]; echo $?)" "the three units are in $unitdir"
cat "$svc" "$run" "$timer" > "$TMP/all" 2>/dev/null
unlike "$TMP/all" "@bindir@" "no @bindir@ left"
unlike "$TMP/all" "@sysconfdir@" "no @sysconfdir@ left"
is "$(sed -n 's/^ExecStart=//p' "$svc")" "$bindir/revops daemon -c $sysconfdir/revops/revops.conf" \
   "revops.service starts the installed binary's daemon on sysconfdir's revops.conf"
is "$(sed -n 's/^ExecStart=//p' "$run")" "$bindir/revops run -c $sysconfdir/revops/revops.conf -p %i --no-progress" \
   "revops-run@.service runs the instance's pipeline"
like "$svc" "Type=notify" "the daemon tells systemd when it is ready (Type=notify)"
like "$svc" 'ExecReload=/bin/kill -HUP $MAINPID' "reload is SIGHUP"
like "$run" "Type=oneshot" "a timer's run is a oneshot"

# The timer unit's command line parses: a missing file is 66, not a usage error (64).
"$root$bindir/revops" run -c "$TMP/none.conf" -p some_pipeline --no-progress > /dev/null 2> "$TMP/err"
is "$?" 66 "the installed binary takes revops-run@'s options (exit 66: no such file)"
"$root$bindir/revops" daemon -c "$TMP/none.conf" > /dev/null 2> "$TMP/err"
code=$?
if grep -q "unknown command 'daemon'" "$TMP/err"; then
    echo "ok $((tap_n + 1)) # SKIP 'revops daemon' is not in this build yet"; tap_n=$((tap_n + 1))
else
    is "$code" 66 "the installed binary has the daemon revops.service starts (exit 66: no such file)"
fi

# The same hardening in both services; each line is explained in the unit.
for unit in "$svc" "$run"; do
    missing=""; unexplained=""
    for d in DynamicUser=yes User=revops StateDirectory=revops ConfigurationDirectory=revops ProtectSystem=strict \
             ProtectHome=yes PrivateTmp=yes PrivateDevices=yes NoNewPrivileges=yes ProtectKernelTunables=yes \
             ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes \
             "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" RestrictNamespaces=yes LockPersonality=yes \
             MemoryDenyWriteExecute=yes SystemCallArchitectures=native SystemCallFilter=@system-service UMask=0077 \
             CapabilityBoundingSet=; do
        grep -qx "$d" "$unit" || missing="$missing $d"
        # Said why: a comment right above (User= goes with DynamicUser=).
        [ "$d" = User=revops ] || grep -B1 -x "$d" "$unit" | head -1 | grep -q '^#' || unexplained="$unexplained $d"
    done
    is "$missing" "" "$(basename "$unit"): every hardening setting"
    is "$unexplained" "" "$(basename "$unit"): each with a comment saying why"
done
like "$timer" "Persistent=true" "the timer catches up a run missed while the host was down"
like "$timer" "RandomizedDelaySec=" "... and spreads runs"
like "$timer" "OnCalendar=" "... with a placeholder schedule (a drop-in sets the real one)"

# MemoryDenyWriteExecute=yes refuses an executable stack: no installed
# module or binary may ask for one (GNU_STACK RWE), or dlopen would fail.
if command -v readelf > /dev/null 2>&1; then
    bad=""
    for f in "$root$bindir/revops" "$root$pkglibdir"/*.so; do
        readelf -lW "$f" | grep GNU_STACK | grep -q RWE && bad="$bad $(basename "$f")"
    done
    is "$bad" "" "no executable stack in the binary or any plugin (W^X holds under MemoryDenyWriteExecute)"
else
    echo "ok $((tap_n + 1)) # SKIP readelf not found"; tap_n=$((tap_n + 1))
fi

# systemd's own checks.  verify wants the command to exist: check copies
# whose ExecStart points into DESTDIR (the settings are the installed ones).
if command -v systemd-analyze > /dev/null 2>&1; then
    v="$TMP/verify"; mkdir -p "$v"
    for f in "$svc" "$run" "$timer"; do sed "s|^ExecStart=$bindir/|ExecStart=$root$bindir/|" "$f" > "$v/$(basename "$f")"; done
    ln -s 'revops-run@.service' "$v/revops-run@at_risk.service"
    ln -s 'revops-run@.timer' "$v/revops-run@at_risk.timer"
    (cd "$v" && systemd-analyze verify --man=no ./revops.service) > "$TMP/verify1" 2>&1
    code=$?
    is "$code $(cat "$TMP/verify1")" "0 " "systemd-analyze verify accepts revops.service, without a warning"
    (cd "$v" && systemd-analyze verify --man=no ./revops-run@at_risk.service ./revops-run@at_risk.timer) > "$TMP/verify2" 2>&1
    code=$?
    is "$code $(cat "$TMP/verify2")" "0 " "... and revops-run@at_risk.service with its timer"
    (cd "$v" && systemd-analyze security --offline=yes ./revops.service) > "$TMP/security" 2>&1
    score=$(sed -n 's/.*Overall exposure level for revops.service: \([0-9.]*\).*/\1/p' "$TMP/security")
    echo "# systemd-analyze security revops.service: exposure $score"
    ok "$("$PYTHON" -c 'import sys; sys.exit(not (sys.argv[1] and float(sys.argv[1]) <= 2.0))' "$score"; echo $?)" \
       "systemd-analyze security: exposure $score, at most 2.0 (OK)"
    (cd "$v" && systemd-analyze security --offline=yes ./revops-run@at_risk.service) > "$TMP/security2" 2>&1
    score=$(sed -n 's/.*Overall exposure level for revops-run@at_risk.service: \([0-9.]*\).*/\1/p' "$TMP/security2")
    echo "# systemd-analyze security revops-run@at_risk.service: exposure $score"
    ok "$("$PYTHON" -c 'import sys; sys.exit(not (sys.argv[1] and float(sys.argv[1]) <= 2.0))' "$score"; echo $?)" \
       "... revops-run@.service: exposure $score"
else
    for t in verify verify security security; do
        echo "ok $((tap_n + 1)) # SKIP systemd-analyze not found (Debian: apt-get install systemd)"; tap_n=$((tap_n + 1))
    done
fi
done_testing
