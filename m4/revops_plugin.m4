# REVOPS_PLUGIN(NAME, DEPENDENCIES-FOUND, DESCRIPTION)
# ----------------------------------------------------
# Adds --enable-NAME / --disable-NAME and the automake conditional
# BUILD_PLUGIN_NAME.  As in collectd's AC_PLUGIN: a plugin is built by default
# when its dependencies were found; asking for it explicitly with --enable-NAME
# while a dependency is missing fails configure instead of silently skipping it.
AC_DEFUN([REVOPS_PLUGIN], [
  AC_ARG_ENABLE([$1],
    [AS_HELP_STRING([--enable-$1], [$3 @<:@default: when its dependencies are found@:>@])],
    [], [enable_$1=auto])
  AS_CASE(["$enable_$1"],
    [yes], [AS_IF([test "x$2" != xyes],
                  [AC_MSG_ERROR([plugin $1 was requested with --enable-$1 but its dependencies were not found])])],
    [auto], [enable_$1="$2"],
    [no], [],
    [AC_MSG_ERROR([bad value $enable_$1 for --enable-$1])])
  AM_CONDITIONAL(m4_toupper([BUILD_PLUGIN_$1]), [test "x$enable_$1" = xyes])
])
